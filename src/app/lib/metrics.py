"""Service metrics: request latency, database query time, cache hits/misses, jobs by status,
WebSocket connections.

Everything on the request path counts in this process only (no Redis call, no lock beyond
prometheus_client's own): with PROMETHEUS_MULTIPROC_DIR set (several granian workers, `app serve`
sets it) the per-process series are merged at scrape time, so /metrics on any worker shows the totals.
`request_metrics_middleware` is a plain ASGI middleware (no task group, no Request object).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

CACHE_EVENTS = Counter("concrete_agent_cache_events", "Cache look-ups by outcome and cache", ["outcome", "cache"])
REQUESTS = Counter("concrete_agent_requests", "HTTP requests by route and status", ["method", "path", "status"])
REQUEST_SECONDS = Histogram(
    "concrete_agent_request_duration_seconds",
    "HTTP request duration by route (to the last body byte)",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
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

# Not timed: scraping and probing would only dilute the request figures.
UNTIMED_PATHS = frozenset({"/metrics", "/health"})


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


def request_metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count and time each HTTP request under its route template (`/api/projects/{project_id:uuid}`)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTIMED_PATHS:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]  # type: ignore[typeddict-item]  # an HTTP scope (checked above)
        status: Any = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_and_note)
        except Exception as exc:  # answered by the app's outer exception handler (e.g. 401 from the gate)
            status = getattr(exc, "status_code", None) or getattr(exc, "status", 500)
            raise
        finally:
            path = scope.get("path_template") or "unrouted"
            REQUESTS.labels(method, path, str(status)).inc()
            REQUEST_SECONDS.labels(method, path).observe(time.perf_counter() - started)

    return middleware


async def refresh_service_metrics(state: Any, engine: AsyncEngine) -> None:
    with contextlib.suppress(Exception):
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT status, count(*) FROM background_jobs GROUP BY status"))
            counts: dict[str, int] = {status: count for status, count in rows.all()}
        for status in ("queued", "running", "completed", "failed", "cancelled"):
            JOBS_BY_STATUS.labels(status).set(counts.get(status, 0))
