"""Background jobs: the row in PostgreSQL is the record of truth, SAQ runs the work.

CONTRACT used by other domains:

    job = await submit_job(db_session, job_type="parse_document", project_id=..., user_id=..., payload={...})

`submit_job` adds the `background_jobs` row to the caller's session, COMMITS the session (so the job
row and whatever the caller added in the same transaction land together), and only then enqueues the
job in SAQ under the row id. If the commit fails nothing is enqueued; if enqueueing fails after the
commit, the row stays `queued` and the reconciler (app.workers.reconciler) enqueues it later.

The other functions here serve the jobs API: visibility (owner, project owner or admin; others get
404), the project's job list, cancel, and the artifact of an export.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import structlog
from advanced_alchemy.filters import LimitOffset
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.db.models import BackgroundJob, Project, utc_now
from app.domain.accounts.sessions import SessionUser
from app.domain.jobs.queues import JobQueues, get_job_queues
from app.domain.jobs.registry import QUEUE_NAMES, queue_for
from app.domain.jobs.registry import job_type as registered_job_type
from app.domain.jobs.schemas import JobRead, JobStatusRecord
from app.domain.jobs.status_cache import read_job_status, status_record, write_job_status
from app.lib.errors import Conflict, InvalidInput, NotFound
from app.lib.events import EventPublisher, job_channels, publish_to
from app.lib.pagination import Page

logger = structlog.get_logger(__name__)

ACTIVE_STATUSES = ("queued", "running")
# `background_jobs.priority` mirrors the queue (SAQ's Redis queues order by queue, not by a number).
QUEUE_PRIORITY = {"high": 2, "default": 1, "low": 0}


def job_not_found() -> NotFound:
    return NotFound("The job does not exist.")


def job_timeout(job_type_name: str, settings: Settings) -> int:
    registered = registered_job_type(job_type_name)
    return registered.timeout if registered and registered.timeout else settings.SAQ_JOB_TIMEOUT


async def submit_job(
    db_session: AsyncSession,
    *,
    job_type: str,
    project_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    payload: dict[str, Any],
    queue: str | None = None,
    priority: int | None = None,
    settings: Settings | None = None,
    queues: JobQueues | None = None,
) -> BackgroundJob:
    """Record the job with the caller's transaction, commit, then enqueue it (see the module docstring)."""
    settings = settings or get_settings()
    queue_name = queue or queue_for(job_type)
    if queue_name not in QUEUE_NAMES:
        raise InvalidInput(f"Unknown queue {queue_name!r}; use one of {', '.join(QUEUE_NAMES)}.")
    registered = registered_job_type(job_type)
    max_retries = (
        registered.max_retries if registered and registered.max_retries is not None else settings.SAQ_MAX_RETRIES
    )
    row = BackgroundJob(
        id=uuid.uuid4(),
        project_id=project_id,
        user_id=user_id,
        job_type=job_type,
        queue=queue_name,
        status="queued",
        priority=QUEUE_PRIORITY[queue_name] if priority is None else priority,
        payload=payload,
        max_retries=max_retries,
    )
    db_session.add(row)
    await db_session.flush()
    project_owner_id = await _project_owner(db_session, project_id)
    record = JobStatusRecord(job=JobRead.from_model(row), user_id=user_id, project_owner_id=project_owner_id)
    await db_session.commit()

    queues = queues or get_job_queues(settings)
    # The status key first: a fast worker may already report `running`, which must not be overwritten.
    await write_job_status(queues.redis, record)
    try:
        await queues.enqueue(
            job_id=row.id,
            job_type=job_type,
            queue=queue_name,
            timeout=job_timeout(job_type, settings),
            max_retries=max_retries,
        )
    except Exception as exc:  # the row is committed: the reconciler enqueues it once Redis answers
        logger.warning("enqueue failed; the reconciler will retry", job_id=str(row.id), error=str(exc))
    return row


async def _project_owner(db_session: AsyncSession, project_id: uuid.UUID | None) -> uuid.UUID | None:
    if project_id is None:
        return None
    owner: uuid.UUID | None = await db_session.scalar(select(Project.owner_id).where(Project.id == project_id))
    return owner


def can_see_job(actor: SessionUser, user_id: uuid.UUID | None, project_owner_id: uuid.UUID | None) -> bool:
    """The job's owner, the project's owner and administrators see a job; everybody else gets 404."""
    return actor.is_admin or actor.id in (user_id, project_owner_id)


async def load_job_record(db_session: AsyncSession, job_id: uuid.UUID) -> tuple[BackgroundJob, JobStatusRecord] | None:
    """The row and its status record (with the project's owner), or None."""
    row = await db_session.get(BackgroundJob, job_id, populate_existing=True)
    if row is None:
        return None
    return row, status_record(row, await _project_owner(db_session, row.project_id))


async def get_job_for(db_session: AsyncSession, queues: JobQueues, actor: SessionUser, job_id: uuid.UUID) -> JobRead:
    """The job from `job:{id}:status` when present, else from its row (re-filling the key)."""
    record = await read_job_status(queues.redis, job_id)
    if record is None:
        loaded = await load_job_record(db_session, job_id)
        if loaded is None:
            raise job_not_found()
        record = loaded[1]
        await write_job_status(queues.redis, record)
    if not can_see_job(actor, record.user_id, record.project_owner_id):
        raise job_not_found()
    return record.job


async def visible_project(db_session: AsyncSession, actor: SessionUser, project_id: uuid.UUID) -> Project:
    """The project when the actor may see it (owner or admin), else 404 — existence does not leak."""
    project = await db_session.get(Project, project_id)
    if project is None or not (actor.is_admin or project.owner_id == actor.id):
        raise NotFound("The project does not exist.")
    return project


async def list_project_jobs(
    db_session: AsyncSession,
    actor: SessionUser,
    project_id: uuid.UUID,
    limit_offset: LimitOffset,
    *,
    status: str | None = None,
    job_type: str | None = None,
) -> Page[JobRead]:
    """The project's jobs, newest first."""
    await visible_project(db_session, actor, project_id)
    conditions = [BackgroundJob.project_id == project_id]
    if status:
        conditions.append(BackgroundJob.status == status)
    if job_type:
        conditions.append(BackgroundJob.job_type == job_type)
    total = await db_session.scalar(select(func.count()).select_from(BackgroundJob).where(*conditions)) or 0
    rows = await db_session.scalars(
        select(BackgroundJob)
        .where(*conditions)
        .order_by(BackgroundJob.created_at.desc(), BackgroundJob.id)
        .limit(limit_offset.limit)
        .offset(limit_offset.offset)
    )
    return Page(
        items=[JobRead.from_model(row) for row in rows],
        total=total,
        limit=limit_offset.limit,
        offset=limit_offset.offset,
    )


async def start_project_job(
    db_session: AsyncSession,
    actor: SessionUser,
    project_id: uuid.UUID,
    *,
    job_type: str,
    payload: dict[str, Any] | None = None,
    settings: Settings | None = None,
    queues: JobQueues | None = None,
) -> BackgroundJob:
    """Start a job on a project the actor may see (404 otherwise): the body of every 202 endpoint."""
    await visible_project(db_session, actor, project_id)
    return await submit_job(
        db_session,
        job_type=job_type,
        project_id=project_id,
        user_id=actor.id,
        payload=payload or {},
        settings=settings,
        queues=queues,
    )


async def cancel_job(
    db_session: AsyncSession,
    queues: JobQueues,
    events: EventPublisher,
    actor: SessionUser,
    job_id: uuid.UUID,
) -> JobRead:
    """Stop a queued or running job: the row says `cancelled` first (so a finishing run cannot commit
    its result, see app.workers.runner), then SAQ drops or aborts it. 409 when it already ended."""
    loaded = await load_job_record(db_session, job_id)
    if loaded is None or not can_see_job(actor, loaded[1].user_id, loaded[1].project_owner_id):
        raise job_not_found()
    row, _ = loaded
    now = utc_now()
    changed = await db_session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == job_id, BackgroundJob.status.in_(ACTIVE_STATUSES))
        .values(status="cancelled", completed_at=now, error="cancelled by user", current_step="cancelled")
        .returning(BackgroundJob.id)
    )
    cancelled = changed.scalar_one_or_none() is not None
    await db_session.commit()
    loaded = await load_job_record(db_session, job_id)
    assert loaded is not None
    row, record = loaded
    if not cancelled:
        raise Conflict(f"The job has already ended ({row.status}).", extra={"job_status": row.status})
    await write_job_status(queues.redis, record)
    try:
        await queues.abort(job_id, row.queue, "cancelled")
    except Exception as exc:  # the row is cancelled; a run that still starts skips it
        logger.warning("SAQ abort failed", job_id=str(job_id), error=str(exc))
    await publish_to(
        events,
        job_channels(row.project_id, row.user_id),
        "job_failed",
        {
            "job_id": str(row.id),
            "project_id": str(row.project_id) if row.project_id else None,
            "job_type": row.job_type,
            "status": "cancelled",
            "error": row.error,
        },
    )
    return record.job


async def job_artifact_path(
    db_session: AsyncSession, actor: SessionUser, job_id: uuid.UUID, settings: Settings
) -> tuple[Path, BackgroundJob]:
    """The file an export job produced (relative paths live under STORAGE_DIR); 404 when there is none."""
    loaded = await load_job_record(db_session, job_id)
    if loaded is None or not can_see_job(actor, loaded[1].user_id, loaded[1].project_owner_id):
        raise job_not_found()
    row = loaded[0]
    if row.status != "completed" or not row.artifact_path:
        raise NotFound("The job has no artifact (yet).")
    path = await asyncio.to_thread(_stored_file, settings, row.artifact_path)
    if path is None:
        raise NotFound("The job's artifact is no longer stored.")
    return path, row


def _stored_file(settings: Settings, artifact_path: str) -> Path | None:
    """Relative artifact paths live under STORAGE_DIR; None when the file is gone."""
    path = Path(artifact_path)
    if not path.is_absolute():
        path = Path(settings.STORAGE_DIR).resolve() / path
    return path if path.is_file() else None
