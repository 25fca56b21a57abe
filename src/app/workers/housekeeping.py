"""Periodic upkeep in every worker (one pass at a time across workers, by a Redis lock): the daily
backup job, the analytics view refresh and expired knowledge-base cache rows."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import text

from app.workers.resources import WorkerResources

logger = structlog.get_logger(__name__)

HOUSEKEEPING_INTERVAL_SECONDS = 300.0


async def housekeeping_pass(resources: WorkerResources) -> None:
    from app.domain.analytics.services import refresh_project_analytics
    from app.domain.system.backup import enqueue_daily_backup

    await enqueue_daily_backup(resources)
    async with resources.sessions() as session:
        await refresh_project_analytics(session)
    async with resources.sessions() as session:
        await session.execute(text("DELETE FROM kb_cache WHERE expires_at < now()"))
        await session.commit()


async def run_housekeeping(resources: WorkerResources, interval: float = HOUSEKEEPING_INTERVAL_SECONDS) -> None:
    lock_key = f"{resources.settings.REDIS_NAMESPACE}:jobs:housekeeping-lock"
    while True:
        try:
            if await resources.redis.set(lock_key, "1", nx=True, px=int(interval * 900)):
                await housekeeping_pass(resources)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # PostgreSQL or Redis away: next round
            logger.warning("housekeeping pass failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(interval)
