"""Upkeep as SAQ cron jobs: registered on the low queue of every worker, each doing its work."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.config import Settings
from app.domain.jobs.queues import JobQueues
from app.workers.cron import expire_kb_cache, refresh_analytics, submit_daily_backup
from app.workers.resources import WorkerResources
from tests.support.live import LiveProcess, wait_for


async def test_a_worker_schedules_the_cron_jobs_in_saq(live_settings: Settings, worker: LiveProcess) -> None:
    queues = JobQueues(live_settings)
    try:

        async def scheduled() -> list[str] | None:
            names = ["submit_daily_backup", "refresh_analytics", "expire_kb_cache"]
            jobs = [await queues.queue("low").job(f"cron:{name}") for name in names]
            if all(job is not None and job.scheduled > 0 for job in jobs):
                return names
            return None

        await wait_for(scheduled, timeout=20, what="the cron jobs to be scheduled")
    finally:
        await queues.close()


async def test_the_cron_jobs_do_their_work(settings: Settings, tmp_path: Path) -> None:
    resources = WorkerResources.create(settings)
    ctx = {"resources": resources}
    try:
        async with resources.sessions() as session:
            await session.execute(
                text(
                    "INSERT INTO kb_cache (query_hash, query_type, query_text, result, expires_at) VALUES "
                    "('expired-cron', 'code', '801', '{}'::jsonb, now() - interval '1 day'), "
                    "('fresh-cron', 'code', '801', '{}'::jsonb, now() + interval '1 day')"
                )
            )
            await session.commit()
        assert await expire_kb_cache(ctx) >= 1
        await refresh_analytics(ctx)
        first = await submit_daily_backup(ctx)
        assert not await submit_daily_backup(ctx)  # a second run the same day submits no second backup
        async with resources.sessions() as session:
            hashes = set((await session.execute(text("SELECT query_hash FROM kb_cache"))).scalars())
            backups = (
                await session.execute(text("SELECT count(*) FROM background_jobs WHERE job_type = 'backup'"))
            ).scalar_one()
        assert "expired-cron" not in hashes and "fresh-cron" in hashes
        assert backups >= 1 and (first or backups == 1)
    finally:
        await resources.close()
