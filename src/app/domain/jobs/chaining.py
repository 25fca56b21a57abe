"""Job chaining: a job queues the next phase (parse → enrich → audit) as a follow-up job.

A follow-up job is added to the job's OWN transaction: it exists exactly when the result that asked for
it committed. After the commit it is put on its SAQ queue; if that fails, the jobs reconciler enqueues
the `queued` row later (app.workers.reconciler). This mirrors `submit_job` minus its commit, which a job
handler must never do.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from app.db.models import BackgroundJob
from app.domain.jobs.context import JobContext
from app.domain.jobs.queues import get_job_queues
from app.domain.jobs.registry import job_type as registered_job_type
from app.domain.jobs.schemas import JobRead, JobStatusRecord
from app.domain.jobs.services import QUEUE_PRIORITY, job_timeout
from app.domain.jobs.status_cache import write_job_status

logger = structlog.get_logger(__name__)

# Payload key naming the jobs to queue after this one, e.g. {"then": ["audit_project"]}: parse passes
# it to enrich so that enrich can queue the audit (see the README, "From a file to an audited budget").
THEN_KEY = "then"


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
