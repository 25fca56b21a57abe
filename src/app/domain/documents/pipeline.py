"""The workflow inside jobs: the project's status as the work moves on, and follow-up jobs.

Project status follows DOMAIN.md: draft → parsing → enriching → auditing → completed (or failed).
A job that starts a phase commits the new status at once in a short transaction of its own (so a
client sees "parsing" while the job runs); the status the phase ends with is written in the job's
own transaction together with its result.

A follow-up job (parse → enrich → audit) is added to the job's OWN transaction: it exists exactly
when the result that asked for it committed. After the commit it is put on its SAQ queue; if that
fails, the jobs reconciler enqueues the `queued` row later (app.workers.reconciler). This mirrors
`submit_job` minus its commit, which a job handler must never do.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import structlog
from sqlalchemy import select, update

from app.db.models import BackgroundJob, Project, utc_now
from app.domain.jobs.context import JobContext
from app.domain.jobs.queues import get_job_queues
from app.domain.jobs.registry import job_type as registered_job_type
from app.domain.jobs.schemas import JobRead, JobStatusRecord
from app.domain.jobs.services import QUEUE_PRIORITY, job_timeout
from app.domain.jobs.status_cache import write_job_status
from app.domain.projects.changes import ProjectChanged
from app.lib.unit_of_work import committed_session, record

logger = structlog.get_logger(__name__)

# Payload key naming the jobs to queue after this one, e.g. {"then": ["audit_project"]}: parse passes
# it to enrich so that enrich can queue the audit (see the README, "From a file to an audited budget").
THEN_KEY = "then"


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
    return str(previous)


def set_project_status(project: Project, status: str) -> None:
    """Set the status in the job's transaction (the project row is already locked by the caller)."""
    project.status = status
    project.completed_at = utc_now() if status == "completed" else None


def is_registered(job_type_name: str) -> bool:
    return registered_job_type(job_type_name) is not None


async def queue_follow_up(
    ctx: JobContext,
    parent: BackgroundJob,
    job_type_name: str,
    payload: dict[str, Any],
    *,
    project_owner_id: uuid.UUID | None,
) -> BackgroundJob | None:
    """Add a `queued` job row to the running job's transaction and enqueue it after the commit.

    None when no handler is registered for `job_type_name` (that phase is not available yet).
    """
    registered = registered_job_type(job_type_name)
    if registered is None:
        return None
    settings = ctx.settings
    max_retries = registered.max_retries if registered.max_retries is not None else settings.SAQ_MAX_RETRIES
    row = BackgroundJob(
        id=uuid.uuid4(),
        project_id=parent.project_id,
        user_id=parent.user_id,
        job_type=job_type_name,
        queue=registered.queue,
        status="queued",
        priority=QUEUE_PRIORITY[registered.queue],
        payload={**payload, "queued_by_job_id": str(parent.id)},
        max_retries=max_retries,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    record = JobStatusRecord(job=JobRead.from_model(row), user_id=row.user_id, project_owner_id=project_owner_id)

    async def enqueue() -> None:
        queues = get_job_queues(settings)
        await write_job_status(queues.redis, record)
        try:
            await queues.enqueue(
                job_id=row.id,
                job_type=job_type_name,
                queue=row.queue,
                timeout=job_timeout(job_type_name, settings),
                max_retries=max_retries,
            )
        except Exception as exc:  # the row is committed: the reconciler enqueues it
            logger.warning("follow-up enqueue failed; the reconciler will retry", job_id=str(row.id), error=str(exc))

    ctx.after_commit(enqueue)
    return row


_background_tasks: set[asyncio.Task[Any]] = set()


def mark_failed_after_rollback(ctx: JobContext, project_id: uuid.UUID, *, while_status: str = "parsing") -> None:
    """The project says `failed` once this job's transaction has rolled back (the job gave up).

    That transaction may hold the project's row lock, so the update must wait for the rollback: it
    runs as a task that outlives the handler, and only moves a project still in `while_status`.
    """

    context = ctx.commit_context()

    async def mark() -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(60):
                async with committed_session(context) as session:
                    owner_id = await session.scalar(
                        update(Project)
                        .where(Project.id == project_id, Project.status == while_status)
                        .values(status="failed", completed_at=None)
                        .returning(Project.owner_id)
                    )
                    if owner_id is not None:
                        record(session, ProjectChanged(project_id, owner_id))

    task = asyncio.get_running_loop().create_task(mark())
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)
