"""The reconciler: no job is lost because Redis forgot it.

Every worker runs it periodically; a Redis lock lets one pass run at a time. It looks at rows that
are `queued` or `running` and have not moved for a while, and at their SAQ jobs:
- SAQ has no such job (Redis restarted, or the enqueue after the commit failed) → enqueue it again;
- SAQ says it ended (complete, failed, aborted) although the row did not → enqueue it again while
  the row has retries left, else mark the row `failed` with the reason.
A job that is queued or active in SAQ is left alone: the SAQ sweep (heartbeat / timeout) recovers
an active job whose worker died. Enqueueing is idempotent (the key is the row id) and a run of a
row that already ended is skipped, so a duplicate here is harmless. It adopts every stalled row of
its database: one REDIS_NAMESPACE per database is assumed (namespaces separate deployments that share
a Redis server, not ones that share a database).
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from saq.job import Status
from sqlalchemy import select, update

from app.db.models import BackgroundJob, utc_now
from app.domain.jobs.services import ACTIVE_STATUSES, job_timeout, load_job_record
from app.domain.jobs.status_cache import write_job_status
from app.lib.events import job_channels, publish_to
from app.workers.resources import WorkerResources

logger = structlog.get_logger(__name__)

BATCH_SIZE = 500
ENDED_IN_SAQ = (Status.COMPLETE, Status.FAILED, Status.ABORTED)


def reconcile_interval(heartbeat_seconds: int) -> float:
    """Often enough to notice a lost job within about one heartbeat (30 s by default)."""
    return float(max(1, min(30, heartbeat_seconds)))


@dataclass
class ReconcileReport:
    requeued: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)


class Reconciler:
    def __init__(self, resources: WorkerResources, worker_id: str) -> None:
        self.resources = resources
        self.worker_id = worker_id
        settings = resources.settings
        self.interval = reconcile_interval(settings.SAQ_JOB_HEARTBEAT)
        # A row must be this still before it is looked at: more than a heartbeat, so a live job whose
        # SAQ entry was just rewritten (heartbeat) or just enqueued is never touched.
        self.grace = datetime.timedelta(seconds=max(2.0, float(settings.SAQ_JOB_HEARTBEAT)))
        self.lock_key = f"{settings.REDIS_NAMESPACE}:jobs:reconciler-lock"

    async def run_forever(self) -> None:
        while True:
            try:
                if await self._take_turn():
                    report = await self.reconcile_once()
                    if report.requeued or report.failed:
                        logger.info(
                            "reconciled jobs",
                            requeued=[str(i) for i in report.requeued],
                            failed=[str(i) for i in report.failed],
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis or PostgreSQL away: try again next round
                logger.warning("reconcile pass failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.interval)

    async def _take_turn(self) -> bool:
        taken = await self.resources.redis.set(
            self.lock_key, self.worker_id, nx=True, px=int(self.interval * 1000 * 0.9)
        )
        return bool(taken)

    async def reconcile_once(self) -> ReconcileReport:
        report = ReconcileReport()
        async with self.resources.sessions() as session:
            rows = list(
                await session.scalars(
                    select(BackgroundJob)
                    .where(
                        BackgroundJob.status.in_(ACTIVE_STATUSES),
                        BackgroundJob.updated_at < utc_now() - self.grace,
                    )
                    .order_by(BackgroundJob.created_at)
                    .limit(BATCH_SIZE)
                )
            )
        by_queue: dict[str, list[BackgroundJob]] = defaultdict(list)
        for row in rows:
            by_queue[row.queue].append(row)
        for queue_name, queue_rows in by_queue.items():
            saq_jobs = await self.resources.queues.queue(queue_name).jobs(str(row.id) for row in queue_rows)
            for row, saq_job in zip(queue_rows, saq_jobs, strict=True):
                if saq_job is not None and saq_job.status not in ENDED_IN_SAQ:
                    continue
                if saq_job is None or row.retry_count < row.max_retries:
                    await self._requeue(row)
                    report.requeued.append(row.id)
                else:
                    await self._fail(row, saq_job.error)
                    report.failed.append(row.id)
        return report

    async def _requeue(self, row: BackgroundJob) -> None:
        await self.resources.queues.enqueue(
            job_id=row.id,
            job_type=row.job_type,
            queue=row.queue,
            timeout=job_timeout(row.job_type, self.resources.settings),
            max_retries=max(0, row.max_retries - row.retry_count),
        )

    async def _fail(self, row: BackgroundJob, saq_error: str | None) -> None:
        reason = f"lost after {row.retry_count + 1} attempts (worker died or stopped)"
        if saq_error:
            reason += f": {saq_error.strip().splitlines()[-1][:500]}"
        async with self.resources.sessions() as session:
            async with session.begin():
                await session.execute(
                    update(BackgroundJob)
                    .where(BackgroundJob.id == row.id, BackgroundJob.status.in_(ACTIVE_STATUSES))
                    .values(status="failed", error=reason, completed_at=utc_now())
                )
            loaded = await load_job_record(session, row.id)
        if loaded is None:
            return
        failed_row, record = loaded
        await write_job_status(self.resources.redis, record)
        await publish_to(
            self.resources.events,
            job_channels(failed_row.project_id, failed_row.user_id),
            "job_failed",
            {
                "job_id": str(failed_row.id),
                "project_id": str(failed_row.project_id) if failed_row.project_id else None,
                "job_type": failed_row.job_type,
                "status": failed_row.status,
                "error": failed_row.error,
                "retry_count": failed_row.retry_count,
            },
        )
