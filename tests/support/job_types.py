"""Job types for the process-level tests only: live workers import this module (JOB_MODULES, see
tests.support.live), which registers them.

`test_sleep` is slow on purpose (so a test can kill its worker, cancel it, or queue others behind
it) and leaves a countable effect inside the job's transaction: `projects.metadata.test_effects`
grows by one per COMMITTED run, while `test:job:{id}:starts` in Redis counts every attempt.
`test_fail` always fails.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from app.db.models import BackgroundJob
from app.domain.jobs.context import JobContext
from app.domain.jobs.progress import ProgressReporter
from app.domain.jobs.registry import register_job


def starts_key(job_id: object) -> str:
    return f"test:job:{job_id}:starts"


async def sleep_job(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    seconds = float(job.payload.get("seconds", 1.0))
    steps = max(1, int(job.payload.get("steps", 10)))
    await ctx.redis.incr(starts_key(job.id))
    if job.project_id is not None:
        await ctx.session.execute(
            text(
                "UPDATE projects SET metadata = jsonb_set(metadata, '{test_effects}', "
                "to_jsonb(coalesce((metadata->>'test_effects')::int, 0) + 1)) WHERE id = :id"
            ),
            {"id": job.project_id},
        )
    for step in range(1, steps + 1):
        await asyncio.sleep(seconds / steps)
        await progress(step / steps, f"step {step} of {steps}", current_step=f"step {step}", total_steps=steps)
    return {"slept": seconds, "attempt": ctx.attempt}


async def failing_job(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    await progress(0.5, "about to fail")
    raise RuntimeError("this test job always fails")


register_job("test_sleep", "tests.support.job_types:sleep_job")
register_job("test_fail", "tests.support.job_types:failing_job")
