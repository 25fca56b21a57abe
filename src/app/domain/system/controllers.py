"""Operations endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.lib.db import alchemy_config
from app.lib.metrics import flush_counts, refresh_service_metrics, registry


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    postgres: str
    redis: str
    failed: list[str]


async def _check_postgres() -> str:
    async with alchemy_config().get_engine().connect() as conn:
        await conn.execute(text("SELECT 1"))
    return "ok"


async def _check_redis(state: State) -> str:
    await state.redis.ping()
    return "ok"


async def _probe(coro: object, timeout: float = 2.0) -> str:
    try:
        return await asyncio.wait_for(coro, timeout)  # type: ignore[arg-type]
    except Exception as exc:  # the probe reports any failure, it never raises
        return f"error: {type(exc).__name__}: {exc}"[:200]


class SystemController(Controller):
    tags = ["operations"]
    include_in_schema = True

    @get("/health", exclude_from_auth=True, opt={"skip_rate_limit": True})
    async def health(self) -> Health:
        """Liveness: 200 while the process serves."""
        return Health(status="ok")

    @get("/ready", exclude_from_auth=True, opt={"skip_rate_limit": True})
    async def ready(self, state: State) -> Response[Readiness]:
        """Readiness: 200 when PostgreSQL and Redis answer, else 503 naming the one that failed."""
        postgres, redis = await asyncio.gather(_probe(_check_postgres()), _probe(_check_redis(state)))
        failed = [name for name, result in (("postgresql", postgres), ("redis", redis)) if result != "ok"]
        body = Readiness(status="ok" if not failed else "unavailable", postgres=postgres, redis=redis, failed=failed)
        return Response(body, status_code=HTTP_200_OK if not failed else HTTP_503_SERVICE_UNAVAILABLE)


class MetricsController(Controller):
    """Prometheus text: request latency histograms (Litestar's middleware) and service gauges."""

    path = "/metrics"
    include_in_schema = False

    @get(exclude_from_auth=True, opt={"skip_rate_limit": True})
    async def metrics(self, state: State) -> Response[bytes]:
        await refresh_service_metrics(state, alchemy_config().get_engine())
        flush_counts()  # this process's tallies exactly; the other processes' as of their last flush
        return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
