"""The unit of work: what a transaction changed is recorded with it and acted on once, after its commit.

Code that writes records *what* changed on the session it writes with; it never invalidates a
cache, mirrors or publishes by hand:

    record(session, ProjectChanged(project.id, project.owner_id))      # app.domain.projects.changes
    record(session, LiveEvent(project_channel(pid), "position_updated", {...}))

SQLAlchemy's session events keep the records with the transaction: a commit makes them due, a
rollback drops them (nothing runs for work that did not happen). The owner of the session then runs
the due ones with ``await after_commit(session, context)``: the request's before-send handler
(``before_send_handler``, wired in app.lib.db), the job runner, or ``committed_session(...)`` for
short transactions of their own. Each change acts in ``change.after_commit(context)`` (the cache is
dropped there); then the listeners that capabilities registered (``add_listener``: the old file
store's mirror) see the whole batch; live events go out last, when the new state is readable.
A change or listener that fails is logged; it never fails the work that committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import structlog
from litestar.types import Message, Scope
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from app.config import Settings
from app.lib.events import EventPublisher

logger = structlog.get_logger(__name__)

_PENDING = "unit_of_work.pending"
_DUE = "unit_of_work.due"
_REQUEST_SESSION = "unit_of_work_session"
_TERMINUS_EVENTS = frozenset({"http.response.start", "http.disconnect", "websocket.disconnect", "websocket.close"})


@dataclass(frozen=True, kw_only=True)
class CommitContext:
    """What after-commit work may use: the infrastructure of the process that committed."""

    settings: Settings
    redis: Redis
    events: EventPublisher
    bind: AsyncEngine  # for work that reads the committed state in a session of its own


class Change(Protocol):
    """Something a transaction did; ``after_commit`` is its own consequence (may do nothing)."""

    announces: ClassVar[bool]  # live events run after every other change and listener

    async def after_commit(self, context: CommitContext) -> None: ...


Listener = Callable[[Sequence[Change], CommitContext], Awaitable[None]]
_listeners: dict[str, Listener] = {}


def add_listener(name: str, listener: Listener) -> None:
    """Register (or replace) a process-wide listener of committed changes, e.g. a plug-in's mirror."""
    _listeners[name] = listener


def remove_listener(name: str) -> None:
    _listeners.pop(name, None)


@dataclass(frozen=True)
class LiveEvent:
    """An event announcing what a transaction wrote: published after its commit, after the cache was dropped."""

    channel: str
    event_type: str
    data: Mapping[str, Any]
    announces: ClassVar[bool] = True

    async def after_commit(self, context: CommitContext) -> None:
        await context.events.publish(self.channel, self.event_type, self.data)


@dataclass(frozen=True)
class AfterCommit:
    """A one-off step to run after the commit (a job's follow-up enqueue)."""

    step: Callable[[], Awaitable[None]]
    announces: ClassVar[bool] = False

    async def after_commit(self, context: CommitContext) -> None:
        await self.step()


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def record(session: AsyncSession | Session, change: Change) -> None:
    """Record a change of the session's current transaction (acted on only if it commits)."""
    pending: list[Change] = _sync(session).info.setdefault(_PENDING, [])
    if change not in pending:
        pending.append(change)


@event.listens_for(Session, "after_commit")
def _commit_made_due(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction decides
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        due: list[Change] = session.info.setdefault(_DUE, [])
        due.extend(change for change in pending if change not in due)


@event.listens_for(Session, "after_soft_rollback")
def _rollback_dropped(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


async def after_commit(session: AsyncSession | Session, context: CommitContext) -> None:
    """Act on every change whose transaction committed on this session (once; never raises)."""
    due: list[Change] = _sync(session).info.pop(_DUE, [])
    if not due:
        return
    state = [change for change in due if not change.announces]
    for change in state:
        await _guarded(change.after_commit(context), change=type(change).__name__)
    for name, listener in list(_listeners.items()):
        await _guarded(listener(due, context), listener=name)
    announcing = [change for change in due if change.announces]
    live = [change for change in announcing if isinstance(change, LiveEvent)]
    publish_many = getattr(context.events, "publish_many", None)
    if len(announcing) > 1 and len(live) == len(announcing) and publish_many is not None:
        # One round trip for the transaction's events (an edit announces two), in their order.
        await _guarded(publish_many([(e.channel, e.event_type, e.data) for e in live]), change="LiveEvent")
        return
    for change in announcing:
        await _guarded(change.after_commit(context), change=type(change).__name__)


async def _guarded(work: Awaitable[None], **where: str) -> None:
    try:
        await work
    except Exception as exc:  # the commit stands; the failure is the listener's to report
        logger.exception("after-commit step failed", error=str(exc), **where)


@contextlib.asynccontextmanager
async def committed_session(context: CommitContext) -> AsyncIterator[AsyncSession]:
    """A short transaction of its own (commits when the block ends), then its after-commit work."""
    async with AsyncSession(context.bind, expire_on_commit=False) as session:
        async with session.begin():
            yield session
        await after_commit(session, context)


def remember_request_session(scope: Scope, session: AsyncSession) -> AsyncSession:
    """Note the request's session (from its provider) so that the before-send handler finds it."""
    scope.setdefault("state", {})[_REQUEST_SESSION] = session
    return session


def before_send_handler(
    close_session: Callable[[Message, Scope], Awaitable[None] | None],
) -> Callable[[Message, Scope], Awaitable[None]]:
    """Wrap advanced-alchemy's before-send hook: run the request's after-commit work, then close.

    It runs before the response starts, so a client that got its answer reads the new state.
    """

    async def handler(message: Message, scope: Scope) -> None:
        if message["type"] in _TERMINUS_EVENTS:
            session: AsyncSession | None = scope.get("state", {}).pop(_REQUEST_SESSION, None)
            if session is not None:
                await after_commit(session, _request_context(scope, session))
        closing = close_session(message, scope)
        if closing is not None:
            await closing

    return handler


def _request_context(scope: Scope, session: AsyncSession) -> CommitContext:
    state = scope["app"].state
    settings: Settings = state.settings
    events: EventPublisher | None = state.get("events")
    if events is None:
        from app.lib.redis_events import RedisEventPublisher

        events = RedisEventPublisher(state.redis, settings.REDIS_NAMESPACE)
    bind = session.bind
    assert isinstance(bind, AsyncEngine)
    return CommitContext(settings=settings, redis=state.redis, events=events, bind=bind)
