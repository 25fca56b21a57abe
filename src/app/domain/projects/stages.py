"""The project's pipeline status (draft → parsing → enriching → auditing → completed | failed) during a job.

A job that starts a phase commits the new status at once in a short transaction of its own
(``set_project_status_now``, so a client sees "parsing" while the job runs); the status the phase ends
with is written in the job's own transaction together with its result (``set_project_status``).

A job's own work commits at its end, all at once; the project's status and progress must be visible
while it runs. ``ProjectStage`` therefore writes them in short transactions of its own, each recording
the change (app.domain.projects.changes), so the cached state is dropped after its commit.
Progress writes never wait for a lock (``SKIP LOCKED``): the job itself locks the project row while it
stores its result, and a progress write must never wait for its own job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Protocol

import structlog
from sqlalchemy import TextClause, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.models import BackgroundJob, Project, utc_now
from app.domain.jobs.context import JobContext, PermanentJobError, gives_up
from app.domain.projects.changes import ProjectChanged, ProjectListChanged, ProjectProgressed
from app.lib.errors import ApplicationError
from app.lib.unit_of_work import CommitContext, committed_session, record

logger = structlog.get_logger(__name__)

PROGRESS_WRITE_INTERVAL_SECONDS = 1.0
FAIL_WRITE_TIMEOUT_SECONDS = 60.0
_background_tasks: set[asyncio.Task[None]] = set()


class ProgressCallback(Protocol):
    """The shape of the jobs machinery's progress reporter: fraction 0..1 and a message."""

    async def __call__(
        self, fraction: float, message: str = "", *, current_step: str | None = None, total_steps: int | None = None
    ) -> None: ...


async def report_nothing(
    fraction: float, message: str = "", *, current_step: str | None = None, total_steps: int | None = None
) -> None:
    """A progress callback for callers that do not follow progress (tests, benchmarks)."""


def engine_of(session: AsyncSession) -> AsyncEngine:
    """The engine behind a session, for work that needs a transaction of its own."""
    bind = session.bind
    if isinstance(bind, AsyncEngine):
        return bind
    if isinstance(bind, AsyncConnection):
        return bind.engine
    raise RuntimeError("the session is not bound to an async engine")


_ENTER = text(
    """
    UPDATE projects SET status = :status, progress = 0, completed_at = NULL
    WHERE id = :id RETURNING user_id
    """
)
_PROGRESS = text(
    """
    UPDATE projects SET progress = :progress
    WHERE id = (SELECT id FROM projects WHERE id = :id FOR UPDATE SKIP LOCKED) AND status = :status
    RETURNING user_id
    """
)
_FAIL = text(
    "UPDATE projects SET status = 'failed', completed_at = NULL WHERE id = :id AND status = :status RETURNING user_id"
)


class ProjectStage:
    """One stage of a project's pipeline, seen from the job that runs it."""

    def __init__(self, context: CommitContext, project_id: uuid.UUID, status: str) -> None:
        self.context = context
        self.project_id = project_id
        self.status = status
        self._last_write = 0.0

    async def enter(self) -> None:
        """The project is now in this stage, at 0 %."""
        await self._write(_ENTER, {"status": self.status}, lock_timeout="5s")

    async def progress(self, fraction: float) -> None:
        """Mirror the job's progress on the project (at most once a second; skipped while the row is locked)."""
        now = time.monotonic()
        if now - self._last_write < PROGRESS_WRITE_INTERVAL_SECONDS and fraction < 1.0:
            return
        self._last_write = now
        percent = Decimal(str(round(min(max(fraction, 0.0), 1.0) * 100, 2)))
        await self._write(
            _PROGRESS, {"status": self.status, "progress": percent}, change=ProjectProgressed, changes_status=False
        )

    def fail_after_rollback(self) -> None:
        """The stage failed for good: say so once the job's transaction has rolled back.

        The job may hold the project's row lock until then, so the write runs as a task that outlives
        the handler and waits (at most a minute) for the lock.
        """

        async def mark() -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FAIL_WRITE_TIMEOUT_SECONDS):
                    await self._write(_FAIL, {"status": self.status})

        task = asyncio.get_running_loop().create_task(mark())
        _background_tasks.add(task)
        task.add_done_callback(_background_tasks.discard)

    @contextlib.contextmanager
    def failed_when_given_up(self, ctx: JobContext, job: BackgroundJob) -> Iterator[None]:
        """Around the stage's work in `job`: when the job gives up (see `gives_up`), the project says
        `failed` (`fail_after_rollback`). An ApplicationError (the project is gone, the input is
        wrong) gives up at once: retrying cannot help."""
        try:
            yield
        except ApplicationError as exc:
            self.fail_after_rollback()
            raise PermanentJobError(exc.detail) from exc
        except Exception as exc:
            if gives_up(ctx, job, exc):
                self.fail_after_rollback()
            raise

    def follow(self, job_progress: ProgressCallback) -> ProgressCallback:
        """A progress callback that reports to the job and mirrors the fraction on the project."""

        async def both(
            fraction: float, message: str = "", *, current_step: str | None = None, total_steps: int | None = None
        ) -> None:
            await job_progress(fraction, message, current_step=current_step, total_steps=total_steps)
            await self.progress(fraction)

        return both

    async def _write(
        self,
        statement: TextClause,
        values: dict[str, object],
        *,
        lock_timeout: str | None = None,
        change: type[ProjectChanged] = ProjectChanged,
        changes_status: bool = True,
    ) -> None:
        try:
            async with committed_session(self.context) as session:
                if lock_timeout:
                    await session.execute(text(f"SET LOCAL lock_timeout = '{lock_timeout}'"))
                owner_id = (await session.execute(statement, {"id": self.project_id, **values})).scalar()
                if owner_id is not None:
                    record(session, change(self.project_id, owner_id))
                    if changes_status:  # written without the ORM: lists filter by status
                        record(session, ProjectListChanged(owner_id))
        except Exception as exc:  # the stage's status is for people watching; the job's result is what counts
            logger.warning("project stage not recorded", project_id=str(self.project_id), error=str(exc))


async def set_project_status_now(ctx: JobContext, project_id: uuid.UUID, status: str) -> str | None:
    """Commit `status` at once (outside the job's transaction); the previous status, None if no project.

    Call it before the job's transaction touches the project row: that transaction may lock the row
    later, and this one must not wait for it.
    """
    async with committed_session(ctx.commit_context()) as session:
        row = (
            await session.execute(
                select(Project.status, Project.owner_id).where(Project.id == project_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        previous, owner_id = row
        await session.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(status=status, completed_at=utc_now() if status == "completed" else None)
        )
        record(session, ProjectChanged(project_id, owner_id))
        record(session, ProjectListChanged(owner_id))  # an ORM bulk UPDATE: lists filter by status
    return str(previous)


def set_project_status(project: Project, status: str) -> None:
    """Set the status in the job's transaction (the project row is already locked by the caller)."""
    project.status = status
    project.completed_at = utc_now() if status == "completed" else None


def mark_failed_after_rollback(ctx: JobContext, project_id: uuid.UUID, *, while_status: str = "parsing") -> None:
    """The project says `failed` once this job's transaction has rolled back (the job gave up), if it is
    still in `while_status`: the stage's own failure write (``ProjectStage.fail_after_rollback``)."""
    ProjectStage(ctx.commit_context(), project_id, while_status).fail_after_rollback()
