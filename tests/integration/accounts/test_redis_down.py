"""When Redis is down: sessions, logins and rate limits fail closed with 503, reads of the cache fall
back to PostgreSQL, nothing crashes, and everything recovers by itself when Redis is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import msgspec
import redis as sync_redis
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings, load_settings
from app.db.models import Project
from app.domain.projects.changes import ProjectDeleted
from app.lib import cache, embedded
from app.lib.redis import create_redis
from app.lib.redis_events import RedisEventPublisher
from app.lib.unit_of_work import CommitContext, committed_session, record
from tests.support.api import DEFAULT_PASSWORD, api_settings, build_test_app, create_project, register, signed_in_user
from tests.support.servers import free_port


def _wait_for_redis(port: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if sync_redis.Redis(port=port).ping():
                return
        except sync_redis.RedisError:
            time.sleep(0.05)
    raise AssertionError("the throwaway Redis did not come back")


async def test_requests_fail_closed_and_recover(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    embedded.start_redis(tmp_path / "redis", port, persist=False)
    try:
        own = api_settings(
            settings, str(tmp_path / "storage"), REDIS_URL=f"redis://127.0.0.1:{port}/0", REDIS_SOCKET_TIMEOUT=1.0
        )
        async with AsyncTestClient(app=build_test_app(own)) as client:
            user = await register(client)
            credentials = {"email": user["email"], "password": DEFAULT_PASSWORD}
            token = (await client.post("/api/auth/login", json=credentials)).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/api/projects", headers=headers)).status_code == 200

            embedded.stop_redis(tmp_path / "redis")
            for response in (
                await client.get("/api/projects", headers=headers),
                await client.post("/api/auth/login", json=credentials),
                await client.post("/api/projects", json={"name": "x", "workflow": "workflow_a"}, headers=headers),
            ):
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.headers["retry-after"]
            assert (await client.get("/health")).status_code == 200

            embedded.start_redis(tmp_path / "redis", port, persist=False)
            _wait_for_redis(port)
            deadline = time.monotonic() + 15
            login = None
            while time.monotonic() < deadline:
                login = await client.post("/api/auth/login", json=credentials)
                if login.status_code == 200:
                    break
            assert login is not None and login.status_code == 200, login.text if login else None
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            assert (await client.get("/api/projects", headers=headers)).status_code == 200
    finally:
        embedded.stop_redis(tmp_path / "redis")


async def test_cache_reads_fall_back_and_missed_invalidations_are_replayed(tmp_path: Path) -> None:
    """A read with Redis down answers from the loader; an invalidation that failed is applied as
    soon as Redis answers again, before any cached value is trusted."""
    port = free_port()
    embedded.start_redis(tmp_path / "redis", port, persist=False)
    redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=1, socket_connect_timeout=1)
    key = f"project:{uuid.uuid4()}:state"
    try:

        async def old() -> str:
            return "old"

        async def new() -> str:
            return "new"

        assert await cache.get_or_load(redis, key, old, str, ttl_seconds=60) == "old"
        assert await cache.get_or_load(redis, key, new, str, ttl_seconds=60) == "old"  # a hit
        embedded.stop_redis(tmp_path / "redis")
        assert await cache.get_or_load(redis, key, new, str, ttl_seconds=60) == "new"  # from "PostgreSQL"
        await cache.invalidate(redis, key)  # does not raise; remembered
        embedded.start_redis(tmp_path / "redis", port, persist=False)
        _wait_for_redis(port)
        # A Redis that kept its data (a network cut) would still hold "old": the replay drops it.
        await redis.set(key, b'"old"')
        assert await cache.get_or_load(redis, key, new, str, ttl_seconds=60) == "new"
    finally:
        await redis.aclose()
        embedded.stop_redis(tmp_path / "redis")


async def test_a_project_deleted_while_redis_was_away_is_not_served_from_the_gate(
    settings: Settings, tmp_path: Path
) -> None:
    """A write whose after-commit invalidation failed (Redis away: a restart with its data kept, a
    network cut) leaves the old entry current in Redis until the replay; the request gate, which reads
    a cached entry with the session, must not answer it meanwhile (it answered the deleted project)."""
    port = free_port()
    embedded.start_redis(tmp_path / "redis", port, persist=True)  # keeps its data across the restart
    try:
        own = api_settings(
            settings, str(tmp_path / "storage"), REDIS_URL=f"redis://127.0.0.1:{port}/0", REDIS_SOCKET_TIMEOUT=1.0
        )
        async with AsyncTestClient(app=build_test_app(own)) as client:
            user = await signed_in_user(client)
            project = await create_project(client, user)
            url = f"/api/projects/{project['id']}"
            for _ in range(2):  # cached in Redis (the second read is the gate's hit)
                assert (await client.get(url, headers=user.headers)).status_code == 200

            embedded.stop_redis(tmp_path / "redis")
            # A writer of this process (the test client runs the app on a loop of its own: a client of
            # this loop, the process's pending invalidations are the same).
            redis, engine = create_redis(own), create_async_engine(own.database_url)
            try:
                events = RedisEventPublisher(redis, own.REDIS_NAMESPACE)
                context = CommitContext(settings=own, redis=redis, events=events, bind=engine)
                async with committed_session(context) as session:  # as DELETE /api/projects/{id} does
                    row = await session.get(Project, uuid.UUID(project["id"]))
                    assert row is not None
                    record(session, ProjectDeleted(row.id, row.owner_id))
                    await session.delete(row)
            finally:
                await engine.dispose()
                await redis.aclose()
            embedded.start_redis(tmp_path / "redis", port, persist=True)
            _wait_for_redis(port)

            deadline = time.monotonic() + 15
            answer = await client.get(url, headers=user.headers)
            while answer.status_code == 503 and time.monotonic() < deadline:  # the pool reconnects
                answer = await client.get(url, headers=user.headers)
            assert answer.status_code == 404, answer.text
            listed = await client.get("/api/projects", headers=user.headers)
            assert listed.json()["total"] == 0
    finally:
        embedded.stop_redis(tmp_path / "redis")


async def test_a_failed_invalidation_is_replayed_by_itself_once_redis_is_back(tmp_path: Path) -> None:
    """Other processes (API workers, whatever they hold in Redis) do not know what this process failed to
    invalidate: the process replays it by itself once Redis answers, not only at its own next cached
    read (a quiet process, a SAQ worker, kept a deleted project current for every other process)."""
    port = free_port()
    embedded.start_redis(tmp_path / "redis", port, persist=True)
    redis = create_redis(
        msgspec.structs.replace(load_settings(), REDIS_URL=f"redis://127.0.0.1:{port}/0", REDIS_SOCKET_TIMEOUT=1.0)
    )
    key = f"project:{uuid.uuid4()}:state"
    try:
        sync_redis.Redis(port=port).set(cache.generation_key(key), 3)
        embedded.stop_redis(tmp_path / "redis")
        await cache.invalidate(redis, key)  # does not raise; remembered
        assert cache.invalidations_pending()
        embedded.start_redis(tmp_path / "redis", port, persist=True)
        _wait_for_redis(port)
        checker = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        deadline = time.monotonic() + 10
        while await checker.get(cache.generation_key(key)) != b"4":  # no cached read in between
            assert time.monotonic() < deadline, "the failed invalidation was not replayed"
            await asyncio.sleep(0.05)
        assert not cache.invalidations_pending()
        await checker.aclose()
    finally:
        await redis.aclose()
        embedded.stop_redis(tmp_path / "redis")
