"""Service metrics beyond request latency: cache hits/misses, jobs by status, WebSocket connections.

Counters that several processes share live in Redis (`metrics:*`) and are copied into gauges when
/metrics is scraped, so every API process reports the same totals.
"""

from __future__ import annotations

import contextlib
from typing import Any

from prometheus_client import Gauge

CACHE_EVENTS = Gauge("concrete_agent_cache_events_total", "Cache look-ups by outcome", ["outcome"])
JOBS_BY_STATUS = Gauge("concrete_agent_jobs", "Background jobs by status", ["status"])
WEBSOCKET_CONNECTIONS = Gauge("concrete_agent_websocket_connections", "Open WebSocket connections (this process)")

CACHE_HITS_KEY = "metrics:cache:hits"
CACHE_MISSES_KEY = "metrics:cache:misses"


async def refresh_service_metrics(state: Any) -> None:
    redis = getattr(state, "redis", None)
    if redis is not None:
        with contextlib.suppress(Exception):
            hits, misses = await redis.mget(CACHE_HITS_KEY, CACHE_MISSES_KEY)
            CACHE_EVENTS.labels("hit").set(int(hits or 0))
            CACHE_EVENTS.labels("miss").set(int(misses or 0))
    with contextlib.suppress(Exception):
        from sqlalchemy import text

        from app.lib.db import alchemy_config

        async with alchemy_config().get_engine().connect() as conn:
            rows = await conn.execute(text("SELECT status, count(*) FROM background_jobs GROUP BY status"))
            counts: dict[str, int] = {status: count for status, count in rows.all()}
        for status in ("queued", "running", "completed", "failed", "cancelled"):
            JOBS_BY_STATUS.labels(status).set(counts.get(status, 0))
