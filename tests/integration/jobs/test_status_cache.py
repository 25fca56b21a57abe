"""`job:{id}:status`: a running attempt's progress copy never brings an ended job back to `running`."""

from __future__ import annotations

import datetime
import uuid

from app.config import Settings
from app.domain.jobs.schemas import JobRead, JobStatusRecord
from app.domain.jobs.status_cache import read_job_status, write_job_status, write_progress_status
from app.lib.redis import create_redis


def _record(job_id: uuid.UUID, status: str, progress: float) -> JobStatusRecord:
    job = JobRead(
        id=job_id,
        job_type="test_sleep",
        status=status,
        progress_fraction=progress,
        current_step=None,
        total_steps=None,
        retry_count=0,
        result_data=None,
        error=None,
        created_at=datetime.datetime.now(datetime.UTC),
        started_at=None,
        completed_at=None,
    )
    return JobStatusRecord(job=job, user_id=uuid.uuid4())


async def test_progress_updates_a_running_job_but_never_an_ended_one(settings: Settings) -> None:
    redis = create_redis(settings)
    running, cancelled = uuid.uuid4(), uuid.uuid4()
    try:
        await write_progress_status(redis, _record(running, "running", 0.1))
        await write_progress_status(redis, _record(running, "running", 0.4))
        # The cancel wrote its record first; the worker's progress flush arrives after it.
        await write_job_status(redis, _record(cancelled, "cancelled", 0.3))
        await write_progress_status(redis, _record(cancelled, "running", 0.5))

        shown_running = await read_job_status(redis, running)
        shown_cancelled = await read_job_status(redis, cancelled)
    finally:
        await redis.aclose()

    assert shown_running is not None
    assert (shown_running.job.status, shown_running.job.progress_fraction) == ("running", 0.4)
    assert shown_cancelled is not None
    assert (shown_cancelled.job.status, shown_cancelled.job.progress_fraction) == ("cancelled", 0.3)
