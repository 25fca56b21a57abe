"""Operations endpoints against real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.lib import embedded
from app.server import build_app
from tests.support.servers import free_port


async def test_health_and_ready(client: AsyncTestClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert health.headers["x-request-id"]
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["failed"] == []


async def test_request_id_is_echoed(client: AsyncTestClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"


async def test_openapi_schema_is_served(client: AsyncTestClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/ready" in response.json()["paths"]


async def test_metrics_exposes_request_latency(client: AsyncTestClient) -> None:
    await client.get("/ready")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "request_duration_seconds_bucket" in response.text
    assert "concrete_agent_cache_events_total" in response.text
    assert "concrete_agent_db_query_seconds_count" in response.text


async def test_unknown_route_is_problem_json(client: AsyncTestClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def _wait(predicate: object, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


async def test_ready_goes_503_when_redis_stops_and_recovers(settings: Settings, tmp_path: Path) -> None:
    """A throwaway Redis of this test: stop it → 503 naming redis; start it again → 200."""
    port = free_port()
    embedded.start_redis(tmp_path, port, persist=False)
    try:
        app = build_app(
            msgspec.structs.replace(settings, REDIS_URL=f"redis://127.0.0.1:{port}/0", REDIS_SOCKET_TIMEOUT=1.0)
        )
        async with AsyncTestClient(app=app) as client:
            assert (await client.get("/ready")).status_code == 200
            embedded.stop_redis(tmp_path)
            down = await client.get("/ready")
            assert down.status_code == 503
            body = down.json()
            assert body["failed"] == ["redis"]
            assert body["postgres"] == "ok"
            embedded.start_redis(tmp_path, port, persist=False)
            _wait(lambda: redis.Redis(port=port).ping())
            deadline = time.monotonic() + 15
            status = 0
            while time.monotonic() < deadline and status != 200:
                status = (await client.get("/ready")).status_code
            assert status == 200
    finally:
        embedded.stop_redis(tmp_path)


async def test_the_first_request_after_a_redis_restart_is_answered(settings: Settings, tmp_path: Path) -> None:
    """A Redis of this test with AOF (as the README asks operators to configure): after a restart the
    pooled connections are dead; the first request retries once on a fresh one, and the session is kept."""
    from tests.support.live import create_live_user

    port = free_port()
    embedded.start_redis(tmp_path, port, persist=True)
    try:
        restartable = msgspec.structs.replace(settings, REDIS_URL=f"redis://127.0.0.1:{port}/0")
        user = await create_live_user(restartable)
        app = build_app(restartable)
        async with AsyncTestClient(app=app) as client:
            me = await client.get("/api/me", headers=user.headers)
            assert me.status_code == 200, me.text
            assert (await client.get("/ready")).status_code == 200
            redis.Redis(port=port).bgrewriteaof()  # the session is in the AOF, whatever the fsync timing
            _wait(lambda: redis.Redis(port=port).info("persistence")["aof_rewrite_in_progress"] == 0)
            embedded.stop_redis(tmp_path)
            embedded.start_redis(tmp_path, port, persist=True)
            _wait(lambda: redis.Redis(port=port).ping())
            first = await client.get("/api/me", headers=user.headers)
            assert first.status_code == 200, first.text
            assert (await client.get("/ready")).status_code == 200
    finally:
        embedded.stop_redis(tmp_path)


def test_a_failed_migration_names_its_cause_and_the_remedy(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner
    from sqlalchemy.engine import make_url

    from app import cli

    missing = make_url(settings.database_url).set(database="ca_no_such_database").render_as_string(False)
    monkeypatch.setattr(cli, "get_settings", lambda: msgspec.structs.replace(settings, DATABASE_URL=missing))
    result = CliRunner().invoke(cli.db_upgrade, [])
    assert result.exit_code == 1
    assert 'database "ca_no_such_database" does not exist' in result.output
    assert "What to do: check the database name in DATABASE_URL" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/me", {"Authorization": "Bearer not-a-session"}, 401),  # refused by the gate middleware
        ("/api/no-such-route", {}, 404),  # refused by the router, before any middleware runs
    ],
)
async def test_every_answer_carries_the_request_id(
    client: AsyncTestClient, path: str, headers: dict[str, str], status: int
) -> None:
    made_up = await client.get(path, headers=headers)
    echoed = await client.get(path, headers={**headers, "X-Request-ID": "trial-42"})

    assert made_up.status_code == echoed.status_code == status
    assert len(made_up.headers.get_list("x-request-id")) == 1 and made_up.headers["x-request-id"]
    assert echoed.headers.get_list("x-request-id") == ["trial-42"]


async def test_pooled_connections_the_server_closed_are_replaced(settings: Settings, tmp_path: Path) -> None:
    """No pre-ping round trips: a pooled connection whose backend was terminated (a PostgreSQL restart,
    an idle timeout) is replaced when it is checked out, and the next requests are answered."""
    from sqlalchemy import event, text

    from app.lib.db import app_alchemy_config
    from tests.support.api import (
        api_settings,
        build_test_app,
        concurrent_client,
        create_project,
        run_sql,
        signed_in_user,
    )

    app = build_test_app(api_settings(settings, str(tmp_path / "storage")))
    drivers: list[Any] = []
    event.listen(
        app_alchemy_config(app).get_engine().sync_engine.pool,
        "connect",
        lambda dbapi_connection, record: drivers.append(record.driver_connection),
    )
    async with concurrent_client(app) as http:
        user = await signed_in_user(http)
        project = await create_project(http, user)
        assert drivers
        await run_sql(
            settings,
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ),
        )
        deadline = time.monotonic() + 10
        while not all(driver.is_closed() for driver in drivers):
            assert time.monotonic() < deadline, "asyncpg did not notice the closed connections"
            await asyncio.sleep(0.01)
        for _ in range(3):
            answer = await http.get(f"/api/projects/{project['id']}/versions", headers=user.headers)
            assert answer.status_code == 200, answer.text
