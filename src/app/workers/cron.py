"""Periodic upkeep as SAQ cron jobs on the `low` queue: the daily backup job, the analytics view
refresh and expired knowledge-base cache rows.

Every worker process registers them (`Worker(cron_jobs=...)`); SAQ enqueues each one under a fixed key
(`cron:<function>`), so however many workers run, one run happens per schedule. Each has a timeout,
so a run whose worker died is swept and taken again like any job.
"""

from __future__ import annotations

from typing import Any

from saq.job import CronJob
from sqlalchemy import text

from app.domain.analytics.services import refresh_project_analytics
from app.domain.system.backup import DAILY_BACKUP_CRON, enqueue_daily_backup
from app.workers.resources import WorkerResources

ANALYTICS_REFRESH_CRON = "*/5 * * * *"
KB_CACHE_EXPIRY_CRON = "7 * * * *"


async def refresh_analytics(ctx: dict[str, Any]) -> None:
    """REFRESH MATERIALIZED VIEW CONCURRENTLY project_analytics (admins' `scope=all` reads it)."""
    resources: WorkerResources = ctx["resources"]
    async with resources.sessions() as session:
        await refresh_project_analytics(session)


async def expire_kb_cache(ctx: dict[str, Any]) -> int:
    """Delete knowledge-base cache rows past their `expires_at`; returns how many went."""
    resources: WorkerResources = ctx["resources"]
    async with resources.sessions() as session:
        deleted = await session.execute(text("DELETE FROM kb_cache WHERE expires_at < now()"))
        await session.commit()
    return int(getattr(deleted, "rowcount", 0) or 0)


async def submit_daily_backup(ctx: dict[str, Any]) -> bool:
    """Submit the day's `backup` job (a `background_jobs` row, so it is visible and retried like any job)."""
    return await enqueue_daily_backup(ctx)


def cron_jobs() -> list[CronJob[Any]]:
    return [
        CronJob(submit_daily_backup, cron=DAILY_BACKUP_CRON, timeout=120),
        CronJob(refresh_analytics, cron=ANALYTICS_REFRESH_CRON, timeout=600),
        CronJob(expire_kb_cache, cron=KB_CACHE_EXPIRY_CRON, timeout=600),
    ]
