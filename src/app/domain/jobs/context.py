"""What a job handler gets: its transaction, the infrastructure, and a way to act after the commit.

A handler runs inside ONE database transaction that the runner (app.workers.runner) commits together
with marking the row `completed`; so a handler never commits, and a run that fails, times out, is
cancelled or dies leaves nothing behind. Work that must only happen once the result is durable
is recorded with the transaction (app.lib.unit_of_work: a locked project's cache and mirror follow by
themselves, `record(ctx.session, LiveEvent(...))` for events) or, for a one-off step, `ctx.after_commit(...)`.
The runner acts on them once the transaction has committed; a rollback drops them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db.models import BackgroundJob
from app.lib.events import EventPublisher
from app.lib.unit_of_work import AfterCommit, CommitContext, record


class PermanentJobError(Exception):
    """Raise from a handler when retrying cannot help (bad input, missing project): fails at once."""


def gives_up(ctx: JobContext, job: BackgroundJob, exc: BaseException) -> bool:
    """Whether the runner fails the job for good on `exc` rather than retrying it (app.workers.runner):
    a PermanentJobError, or any error on the last attempt."""
    return isinstance(exc, PermanentJobError) or ctx.attempt > job.max_retries


@dataclass(kw_only=True)
class JobContext:
    """The handler's first argument (the second is the job row, the third its progress reporter)."""

    job_id: uuid.UUID
    session: AsyncSession
    settings: Settings
    redis: Redis
    events: EventPublisher
    attempt: int
    artifact_path: str | None = None

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `await callback()` once the job's transaction has committed (errors are logged)."""
        record(self.session, AfterCommit(callback))

    def commit_context(self) -> CommitContext:
        """What the job's after-commit work runs with."""
        bind = self.session.bind
        assert isinstance(bind, AsyncEngine)
        return CommitContext(settings=self.settings, redis=self.redis, events=self.events, bind=bind)

    def set_artifact(self, path: str) -> None:
        """The file this job produced (relative to STORAGE_DIR), served by GET /api/jobs/{id}/artifact."""
        self.artifact_path = path
