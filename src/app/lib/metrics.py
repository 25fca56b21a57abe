"""Service metrics beyond request latency: database query time, cache hits/misses, jobs by status,
WebSocket connections.

Counters that several processes share live in Redis (`metrics:*`) and are copied into gauges when
/metrics is scraped, so every API process reports the same totals. With PROMETHEUS_MULTIPROC_DIR set
(several granian workers) the per-process series are merged at scrape time.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Gauge, Histogram, multiprocess
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

CACHE_EVENTS = Gauge(
    "concrete_agent_cache_events_total", "Cache look-ups by outcome", ["outcome"], multiprocess_mode="mostrecent"
)
JOBS_BY_STATUS = Gauge("concrete_agent_jobs", "Background jobs by status", ["status"], multiprocess_mode="mostrecent")
WEBSOCKET_CONNECTIONS = Gauge(
    "concrete_agent_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum"
)
DB_QUERY_SECONDS = Histogram(
    "concrete_agent_db_query_seconds",
    "Time spent in database statements",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)

CACHE_HITS_KEY = "metrics:cache:hits"
CACHE_MISSES_KEY = "metrics:cache:misses"


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged
    return DEFAULT_REGISTRY


def instrument_engine(engine: Engine) -> None:
    """Time every statement (cursor execute) into DB_QUERY_SECONDS."""
    if getattr(engine, "_ca_instrumented", False):
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info.setdefault("_ca_query_start", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        starts = conn.info.get("_ca_query_start")
        if starts:
            DB_QUERY_SECONDS.observe(time.perf_counter() - starts.pop())

    engine._ca_instrumented = True  # type: ignore[attr-defined]


async def refresh_service_metrics(state: Any, engine: AsyncEngine) -> None:
    redis = getattr(state, "redis", None)
    if redis is not None:
        with contextlib.suppress(Exception):
            hits, misses = await redis.mget(CACHE_HITS_KEY, CACHE_MISSES_KEY)
            CACHE_EVENTS.labels("hit").set(int(hits or 0))
            CACHE_EVENTS.labels("miss").set(int(misses or 0))
    with contextlib.suppress(Exception):
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT status, count(*) FROM background_jobs GROUP BY status"))
            counts: dict[str, int] = {status: count for status, count in rows.all()}
        for status in ("queued", "running", "completed", "failed", "cancelled"):
            JOBS_BY_STATUS.labels(status).set(counts.get(status, 0))
