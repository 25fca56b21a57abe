"""Direct access to the budget service for tests that act as another domain would (imports, audits)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.config import Settings
from app.domain.budgets.services import BudgetService, NewVersion


class CommittingBudgetService(BudgetService):
    """Commits each version as the caller of `create_version` does (rolls back a refusal)."""

    async def create_version(self, *args: Any, **kwargs: Any) -> NewVersion:
        try:
            result = await super().create_version(*args, **kwargs)
        except BaseException:
            await self.db_session.rollback()
            raise
        await self.db_session.commit()
        return result


@asynccontextmanager
async def budget_service(settings: Settings, statements: list[str] | None = None) -> AsyncIterator[BudgetService]:
    """A BudgetService on a session of its own (its own engine: no pool shared with the app).

    `statements` collects every SQL statement sent, to check that bulk work stays bulk.
    """
    engine = create_async_engine(settings.database_url)
    if statements is not None:

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            yield CommittingBudgetService(session=session)
    finally:
        await engine.dispose()
