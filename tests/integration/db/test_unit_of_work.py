"""The unit of work: changes recorded in a transaction are acted on once after its commit, never after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.config import Settings
from app.lib.redis import create_redis
from app.lib.unit_of_work import (
    AfterCommit,
    CommitContext,
    add_listener,
    after_commit,
    committed_session,
    record,
    remove_listener,
)
from tests.support.job_runs import RecordedEvents

SEEN: list[str] = []


@dataclass(frozen=True)
class Touched:
    name: str
    announces: ClassVar[bool] = False

    async def after_commit(self, context: CommitContext) -> None:
        SEEN.append(f"state:{self.name}")


@dataclass(frozen=True)
class Announced:
    name: str
    payload: dict[str, int] = field(default_factory=dict)
    announces: ClassVar[bool] = True

    async def after_commit(self, context: CommitContext) -> None:
        SEEN.append(f"event:{self.name}")


@pytest.fixture
async def context(settings: Settings) -> AsyncIterator[CommitContext]:
    engine: AsyncEngine = create_async_engine(settings.database_url)
    redis = create_redis(settings)
    SEEN.clear()
    yield CommitContext(settings=settings, redis=redis, events=RecordedEvents(), bind=engine)
    await redis.aclose()
    await engine.dispose()


async def test_committed_changes_run_once_in_order_and_rolled_back_ones_never(context: CommitContext) -> None:
    async def listener(changes: object, _: CommitContext) -> None:
        SEEN.append(f"listener:{len(changes)}")  # type: ignore[arg-type]

    add_listener("test.unit_of_work", listener)
    try:
        await _commit_then_roll_back(context)
    finally:
        remove_listener("test.unit_of_work")
    assert SEEN == ["state:x", "listener:2", "event:a"]


async def _commit_then_roll_back(context: CommitContext) -> None:
    async with AsyncSession(context.bind) as session:
        record(session, Announced("a"))
        record(session, Touched("x"))
        record(session, Touched("x"))  # the same change twice in one transaction: handled once
        await session.execute(text("SELECT 1"))
        await session.commit()
        record(session, Touched("lost"))
        await session.execute(text("SELECT 1"))
        await session.rollback()
        await after_commit(session, context)
        await after_commit(session, context)  # nothing is handled twice


async def test_a_savepoint_does_not_decide_and_a_failing_step_does_not_stop_the_others(context: CommitContext) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    async with committed_session(context) as session:
        async with session.begin_nested():
            record(session, Touched("inner"))
        record(session, AfterCommit(broken))
        record(session, Touched("outer"))
        assert SEEN == []  # nothing before the outer commit
    assert SEEN[:2] == ["state:inner", "state:outer"]

    SEEN.clear()
    with pytest.raises(ZeroDivisionError):
        async with committed_session(context) as session:
            record(session, Touched("failed"))
            raise ZeroDivisionError
    assert SEEN == []
