"""Service metrics: request latency, database query time, cache hits/misses, jobs by status,
WebSocket connections.

Everything on the request path counts in this process only (no Redis call): with
PROMETHEUS_MULTIPROC_DIR set (several granian workers, `app serve` sets it) the per-process series are
merged at scrape time, so /metrics on any worker shows the totals. `request_metrics_middleware` is a
plain ASGI middleware (no task group, no Request object).

Request and cache-event counts are tallied in plain dicts on the request path and moved into the
Prometheus counters by `flush_counts` — once a second (`flushing`, in every server process's
lifespan) and right before /metrics is collected. In multiprocess mode each such update writes the
process's mmap file (a lock, a pid check, a write per sample): it cost about 5 % of a cached read per
request, batched it costs nothing noticeable. So a scrape shows the answering process exactly and the
other processes' counts up to ~1 s late. The duration histogram is still observed per request (the
client library offers no batched observe), through a cached labelled child.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
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

FLUSH_SECONDS = 1.0
# Tallies since the last flush: (method, path, status) and (outcome, cache) -> count.
_request_counts: dict[tuple[str, str, str], int] = {}
_cache_counts: dict[tuple[str, str], int] = {}
_duration_children: dict[tuple[str, str], Any] = {}  # (method, path) -> REQUEST_SECONDS.labels(...)


def count_cache_event(outcome: str, cache: str, amount: int = 1) -> None:
    """One (or `amount`) cache look-ups of `cache` ("hit" or "miss"), exported by the next flush."""
    key = (outcome, cache)
    _cache_counts[key] = _cache_counts.get(key, 0) + amount


def flush_counts() -> None:
    """Move the tallies into the Prometheus counters (the process's files in multiprocess mode)."""
    global _request_counts, _cache_counts
    requests, _request_counts = _request_counts, {}
    cache_events, _cache_counts = _cache_counts, {}
    for labels, amount in list(requests.items()):
        REQUESTS.labels(*labels).inc(amount)
    for cache_labels, count in list(cache_events.items()):
        CACHE_EVENTS.labels(*cache_labels).inc(count)


async def flush_forever(interval: float = FLUSH_SECONDS) -> None:
    """A process's background task (API processes: `flushing`; the job worker runs it itself)."""
    while True:
        await asyncio.sleep(interval)
        flush_counts()


@contextlib.asynccontextmanager
async def flushing(interval: float = FLUSH_SECONDS) -> AsyncIterator[None]:
    """Flush the tallies every `interval` for the life of a server process, and once at its end."""
    task = asyncio.create_task(flush_forever(interval), name="metrics-flush")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        flush_counts()


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
            key = (method, path, str(status))
            _request_counts[key] = _request_counts.get(key, 0) + 1
            timer = _duration_children.get((method, path))
            if timer is None:  # route templates and methods are few: the dict stays small
                timer = _duration_children[(method, path)] = REQUEST_SECONDS.labels(method, path)
            timer.observe(time.perf_counter() - started)

    return middleware


async def refresh_service_metrics(state: Any, engine: AsyncEngine) -> None:
    with contextlib.suppress(Exception):
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT status, count(*) FROM background_jobs GROUP BY status"))
            counts: dict[str, int] = {status: count for status, count in rows.all()}
        for status in ("queued", "running", "completed", "failed", "cancelled"):
            JOBS_BY_STATUS.labels(status).set(counts.get(status, 0))
