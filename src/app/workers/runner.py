"""One attempt of one job: the SAQ function `run_job`, and the only code that moves a row's status.

An attempt (1) marks the row `running` in a short transaction, skipping rows that are already
completed, failed or cancelled; (2) runs the handler inside ONE transaction that first takes an
advisory lock on the job (a duplicate attempt waits, then sees `completed` and skips) and ends with
`UPDATE ... SET status='completed' WHERE status='running'` — so the effect commits exactly once and
never for a job cancelled meanwhile; (3) on failure records the error and either sets the row back
to `queued` (SAQ retries with backoff) or `failed` when `max_retries` is used up. The row decides the
retry budget: it sets the SAQ job's `retries` before re-raising.

While the handler runs, a heartbeat task touches the SAQ job (so the sweep of any worker can tell a
dead worker's job from a live one), flushes throttled progress, and watches the row: a job
cancelled by the API is stopped here even when SAQ's own abort signal was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import structlog
from saq.job import Job
from sqlalchemy import select, text, update

from app.db.models import BackgroundJob, utc_now
from app.domain.jobs.context import JobContext, PermanentJobError
from app.domain.jobs.progress import ProgressReporter
from app.domain.jobs.registry import JobHandler, job_type
from app.domain.jobs.schemas import JobStatusRecord
from app.domain.jobs.services import job_timeout, load_job_record
from app.domain.jobs.status_cache import TERMINAL_STATUSES, write_job_status
from app.lib.events import job_channels, publish_to
from app.lib.unit_of_work import after_commit
from app.workers.resources import WorkerResources

logger = structlog.get_logger(__name__)

REQUEUE_WRITE_TIMEOUT_SECONDS = 3.0
# How often each SAQ worker looks for aborted jobs (its `abort` timer, app.workers.runtime).
SAQ_ABORT_CHECK_SECONDS = 1


class _Superseded(Exception):
    """The row left `running` while the handler worked (cancelled): roll the work back."""


async def run_job(ctx: dict[str, Any], *, job_id: str, job_type: str | None = None) -> dict[str, Any]:
    """The SAQ function of every job; `job_type` is only there for the /saq monitor."""
    resources: WorkerResources = ctx["resources"]
    return await JobAttempt(resources, ctx["job"], uuid.UUID(job_id)).run()


def heartbeat_period(heartbeat_seconds: int) -> float:
    return max(0.5, min(5.0, heartbeat_seconds / 3))


class JobAttempt:
    def __init__(self, resources: WorkerResources, saq_job: Job, job_id: uuid.UUID) -> None:
        self.resources = resources
        self.settings = resources.settings
        self.saq_job = saq_job
        self.job_id = job_id
        self.log = logger.bind(job_id=str(job_id), attempt=saq_job.attempts)
        self._cancelled_by_user = False
        self._progress: ProgressReporter | None = None

    async def run(self) -> dict[str, Any]:
        started = await self._mark_running()
        if started is None:
            return {"skipped": True}
        row, record = started
        registered = job_type(row.job_type)
        if registered is None:
            await self._fail(row, PermanentJobError(f"no handler is registered for job type {row.job_type!r}"))
            raise PermanentJobError(f"unknown job type {row.job_type!r}")
        try:
            handler = registered.resolve()
        except (ImportError, AttributeError) as exc:
            await self._fail(row, PermanentJobError(f"handler {registered.handler_path} cannot be loaded: {exc}"))
            raise

        self._progress = ProgressReporter(
            job_id=row.id,
            project_id=row.project_id,
            user_id=row.user_id,
            job_type=row.job_type,
            record=record,
            engine=self.resources.engine,
            redis=self.resources.redis,
            events=self.resources.events,
        )
        await self._progress(0.0, "started", current_step=row.current_step)
        task = asyncio.current_task()
        assert task is not None
        heartbeat = asyncio.create_task(self._heartbeat(task), name=f"heartbeat:{self.job_id}")
        timeout = job_timeout(row.job_type, self.settings)
        try:
            async with asyncio.timeout(timeout):
                return await self._run_handler(handler, row)
        except asyncio.CancelledError:
            if self._cancelled_by_user:
                task.uncancel()
                await self._publish_row_state()
                return {"cancelled": True}
            await self._interrupted()
            raise
        except TimeoutError:
            await self._fail(row, TimeoutError(f"timed out after {timeout} s"))
            raise
        except _Superseded:
            await self._publish_row_state()
            return {"cancelled": True}
        except Exception as exc:
            await self._fail(row, exc)
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat

    async def _mark_running(self) -> tuple[BackgroundJob, JobStatusRecord] | None:
        async with self.resources.sessions() as session, session.begin():
            row = await session.get(BackgroundJob, self.job_id, with_for_update=True)
            if row is None:
                self.log.warning("job row missing; skipped")
                return None
            if row.status in TERMINAL_STATUSES:
                self.log.info("job already ended; skipped", status=row.status)
                return None
            row.retry_count = 0 if row.started_at is None else row.retry_count + 1
            row.status = "running"
            row.started_at = row.started_at or utc_now()
            row.current_step = row.current_step if row.retry_count == 0 else f"attempt {row.retry_count + 1}"
        loaded = await self._load()
        if loaded is None:
            return None
        await write_job_status(self.resources.redis, loaded[1])
        return loaded

    async def _load(self) -> tuple[BackgroundJob, JobStatusRecord] | None:
        async with self.resources.sessions() as session:
            return await load_job_record(session, self.job_id)

    async def _run_handler(self, handler: JobHandler, row: BackgroundJob) -> dict[str, Any]:
        assert self._progress is not None
        async with self.resources.sessions() as session, session.begin():
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"job:{self.job_id}"}
            )
            status = await session.scalar(select(BackgroundJob.status).where(BackgroundJob.id == self.job_id))
            if status != "running":
                raise _Superseded(status)
            ctx = JobContext(
                job_id=self.job_id,
                session=session,
                settings=self.settings,
                redis=self.resources.redis,
                events=self.resources.events,
                attempt=row.retry_count + 1,
            )
            result = await handler(ctx, row, self._progress) or {}
            completed = await session.execute(
                update(BackgroundJob)
                .where(BackgroundJob.id == self.job_id, BackgroundJob.status == "running")
                .values(
                    status="completed",
                    progress=100,
                    current_step="completed",
                    result_data=result,
                    artifact_path=ctx.artifact_path,
                    completed_at=utc_now(),
                    error=None,
                )
                .returning(BackgroundJob.id)
            )
            if completed.scalar_one_or_none() is None:
                raise _Superseded("cancelled")
        await after_commit(session, ctx.commit_context())  # the transaction's recorded changes, now durable
        await self._progress.flush_event()
        await self._publish_row_state()
        self.log.info("job completed", job_type=row.job_type)
        return result

    async def _fail(self, row: BackgroundJob, exc: BaseException) -> None:
        """Record a failed attempt; the row (not SAQ) decides whether another attempt follows."""
        error = f"{type(exc).__name__}: {exc}"[:4000]
        retry = not isinstance(exc, PermanentJobError) and row.retry_count < row.max_retries
        async with self.resources.sessions() as session, session.begin():
            if retry:
                await session.execute(
                    update(BackgroundJob)
                    .where(BackgroundJob.id == self.job_id, BackgroundJob.status == "running")
                    .values(status="queued", error=error, current_step="waiting to retry")
                )
            else:
                await session.execute(
                    update(BackgroundJob)
                    .where(BackgroundJob.id == self.job_id, BackgroundJob.status.in_(("running", "queued")))
                    .values(status="failed", error=error, completed_at=utc_now())
                )
        self.saq_job.retries = self.saq_job.attempts + 1 if retry else self.saq_job.attempts
        self.log.warning("job attempt failed", error=error, will_retry=retry)
        if self._progress is not None:
            await self._progress.flush_event()
        await self._publish_row_state()

    async def _interrupted(self) -> None:
        """Worker shutdown (or SAQ abort): SAQ requeues the job, so the row says `queued` again."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(REQUEUE_WRITE_TIMEOUT_SECONDS):
                await asyncio.shield(self._requeue_row())

    async def _requeue_row(self) -> None:
        async with self.resources.sessions() as session, session.begin():
            await session.execute(
                update(BackgroundJob)
                .where(BackgroundJob.id == self.job_id, BackgroundJob.status == "running")
                .values(status="queued", current_step="interrupted; waiting to resume")
            )
        await self._publish_row_state(publish=False)

    async def _publish_row_state(self, *, publish: bool = True) -> None:
        """Copy the row to `job:{id}:status` and tell the clients how the job ended."""
        loaded = await self._load()
        if loaded is None:
            return
        row, record = loaded
        await write_job_status(self.resources.redis, record)
        if not publish or row.status not in ("completed", "failed"):
            return
        data: dict[str, Any] = {
            "job_id": str(row.id),
            "project_id": str(row.project_id) if row.project_id else None,
            "job_type": row.job_type,
            "status": row.status,
            "retry_count": row.retry_count,
        }
        if row.status == "completed":
            data["result"] = row.result_data
            event_type = "job_complete"
        else:
            data["error"] = row.error
            event_type = "job_failed"
        await publish_to(self.resources.events, job_channels(row.project_id, row.user_id), event_type, data)

    async def _heartbeat(self, task: asyncio.Task[Any]) -> None:
        period = heartbeat_period(self.settings.SAQ_JOB_HEARTBEAT)
        while True:
            await asyncio.sleep(period)
            started = time.monotonic()
            try:
                await self.saq_job.update()
            except Exception as exc:
                self.log.warning("heartbeat failed", error=str(exc))
            if self._progress is not None:
                try:
                    await self._progress.flush_event()
                except Exception as exc:  # uncaught, it ended the beats: no more cancel checks or SAQ touches
                    self.log.warning("progress event failed", error=str(exc))
            try:
                async with self.resources.engine.connect() as conn:
                    status = await conn.scalar(select(BackgroundJob.status).where(BackgroundJob.id == self.job_id))
            except Exception as exc:
                self.log.warning("cancel check failed", error=str(exc))
                continue
            if status == "cancelled" and not self._cancelled_by_user:
                self.log.info("job cancelled by the API; stopping it")
                self._cancelled_by_user = True
                task.cancel()
            if time.monotonic() - started > period:
                self.log.warning("heartbeat is slow; is the event loop blocked?", seconds=time.monotonic() - started)
