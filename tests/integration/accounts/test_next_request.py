"""The request gate across API instances: logout, suspension, role changes and edits made through one
instance are seen by the very next request to another, although a cached read in each instance is
answered from its near-cache with no Redis call (and costs one Redis call with the near-cache off)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from app.config import Settings
from app.db.models import Project
from app.domain.projects.cache import project_state_key
from app.lib import cache, near_cache
from tests.support.api import (
    ApiUser,
    api_settings,
    build_test_app,
    create_project,
    make_admin,
    run_sql,
    signed_in_user,
)


@pytest.fixture
async def other_instance(settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A second API instance (its own app, Redis pool, engine and near-cache) on the same PostgreSQL and Redis."""
    async with AsyncTestClient(app=build_test_app(api_settings(settings, str(tmp_path / "storage")))) as client:
        yield client


def near_of(client: AsyncTestClient[Litestar]) -> near_cache.NearCache:
    near: near_cache.NearCache = client.app.state[near_cache.NEAR_CACHE_STATE]
    return near


async def until_live(client: AsyncTestClient[Litestar], seconds: float = 10.0) -> None:
    """Poll until the instance's near-cache subscription is proven live."""
    near = near_of(client)
    deadline = time.monotonic() + seconds
    while not near.live:
        assert time.monotonic() < deadline, "the near-cache subscription did not become live"
        await asyncio.sleep(0.01)


@contextmanager
def redis_calls(client: AsyncTestClient[Litestar]) -> Iterator[list[tuple[Any, ...]]]:
    """The commands the instance's Redis client sends meanwhile (its pipelines aside)."""
    redis = client.app.state.redis
    calls: list[tuple[Any, ...]] = []
    execute = redis.execute_command

    async def counted(*args: Any, **options: Any) -> Any:
        calls.append(args)
        return await execute(*args, **options)

    redis.execute_command = counted
    try:
        yield calls
    finally:
        redis.execute_command = execute


async def _warm(client: AsyncTestClient[Litestar], user: ApiUser, project: dict[str, Any]) -> str:
    """Read until the instance answers the project from its near-cache (no Redis call), and prove it."""
    await until_live(client)
    url = f"/api/projects/{project['id']}"
    for _ in range(2):  # the first read may fill the cache, the second puts it in the near-cache
        answer = await client.get(url, headers=user.headers)
        assert answer.status_code == 200, answer.text
    await _served_by_the_process(client, user, url, 200)
    return url


async def _served_by_the_process(client: AsyncTestClient[Litestar], user: ApiUser, url: str, status: int) -> None:
    with redis_calls(client) as calls:
        answer = await client.get(url, headers=user.headers)
    assert answer.status_code == status, answer.text
    assert calls == [], "answered from the near-cache without Redis"


async def test_a_cached_read_in_the_near_cache_makes_no_redis_call(
    client: AsyncTestClient[Litestar], api_user: ApiUser, other_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    url = await _warm(client, api_user, project)
    assert (await client.get(url, headers=api_user.headers)).json()["id"] == project["id"]
    # Someone else's project: 404, also when everything is in the near-cache (the owner tag is checked).
    assert (await client.get(url, headers=other_user.headers)).status_code == 404
    await _served_by_the_process(client, other_user, url, 404)


async def test_with_the_near_cache_off_a_cached_read_costs_one_redis_call(
    settings: Settings, tmp_path: Path, api_user: ApiUser, other_user: ApiUser, client: AsyncTestClient[Litestar]
) -> None:
    off = api_settings(settings, str(tmp_path / "off"), NEAR_CACHE_TTL_SECONDS=0)
    project = await create_project(client, api_user)
    url = f"/api/projects/{project['id']}"
    async with AsyncTestClient(app=build_test_app(off)) as instance:
        assert instance.app.state[near_cache.NEAR_CACHE_STATE] is None
        for _ in range(2):
            assert (await instance.get(url, headers=api_user.headers)).status_code == 200
        assert (await instance.get(url, headers=other_user.headers)).status_code == 404
        with redis_calls(instance) as calls:
            answer = await instance.get(url, headers=api_user.headers)
            assert answer.status_code == 200
            assert answer.json()["id"] == project["id"]
            assert [call[0] for call in calls] == ["EVALSHA"]
            calls.clear()
            # Someone else's project: still one call, and a 404 (the owner tag is checked, the state not decoded).
            assert (await instance.get(url, headers=other_user.headers)).status_code == 404
            assert [call[0] for call in calls] == ["EVALSHA"]


async def test_logout_is_seen_by_the_next_request_to_another_instance(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    url = await _warm(other_instance, api_user, project)
    assert (await client.post("/api/auth/logout", headers=api_user.headers)).status_code == 204
    refused = await other_instance.get(url, headers=api_user.headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"


async def test_suspension_and_role_change_are_seen_by_the_next_request_elsewhere(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], settings: Settings
) -> None:
    admin = await make_admin(client, settings)
    demoted = await make_admin(client, settings)
    user = await signed_in_user(client)
    project = await create_project(client, user)
    url = await _warm(other_instance, user, project)
    await _warm(other_instance, demoted, project)  # admins see all, from the near-cache too

    changed = await client.patch(f"/api/admin/users/{demoted.id}", json={"role": "user"}, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    assert (await other_instance.get(url, headers=demoted.headers)).status_code == 404

    suspended = await client.patch(f"/api/admin/users/{user.id}", json={"status": "suspended"}, headers=admin.headers)
    assert suspended.status_code == 200, suspended.text
    assert (await other_instance.get(url, headers=user.headers)).status_code == 401


async def test_an_edit_is_seen_by_the_next_cached_read_elsewhere(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    url = await _warm(other_instance, api_user, project)
    edited = await client.patch(url, json={"name": "Nové jméno"}, headers=api_user.headers)
    assert edited.status_code == 200, edited.text
    assert (await other_instance.get(url, headers=api_user.headers)).json()["name"] == "Nové jméno"
    listing = await other_instance.get("/api/projects", headers=api_user.headers)
    assert [p["name"] for p in listing.json()["items"]] == ["Nové jméno"]


async def test_an_invalidation_racing_a_fill_leaves_no_stale_entry(
    client: AsyncTestClient[Litestar], api_user: ApiUser, settings: Settings
) -> None:
    """The gate reads the old state from Redis; before it can keep it, the project is written and
    invalidated (a writer in any process); the old state must not stay in the near-cache."""
    project = await create_project(client, api_user, name="Před")
    url = await _warm(client, api_user, project)
    key = project_state_key(project["id"])
    near = near_of(client)
    near.drop([key])  # the next read goes to Redis (and would keep what it read)
    redis = client.app.state.redis
    execute = redis.execute_command
    raced: list[bool] = []

    async def racing(*args: Any, **options: Any) -> Any:
        reply = await execute(*args, **options)
        if args[0] == "EVALSHA" and not raced:
            raced.append(True)  # the write commits and invalidates after this read, before the keep
            await run_sql(settings, update(Project).where(Project.id == project["id"]).values(name="Po"))
            await cache.invalidate(redis, key)
        return reply

    redis.execute_command = racing
    try:
        assert (await client.get(url, headers=api_user.headers)).json()["name"] == "Před"  # read before the write
    finally:
        redis.execute_command = execute
    assert raced
    assert near.get(key) is None
    assert (await client.get(url, headers=api_user.headers)).json()["name"] == "Po"


async def _kill_subscription(settings: Settings, client: AsyncTestClient[Litestar]) -> None:
    """Close the instance's subscription connection from the Redis side (as a restart or a proxy would)."""
    name = near_cache.subscriber_name(settings.REDIS_NAMESPACE, near_of(client))
    admin = aioredis.Redis.from_url(settings.redis_url)
    try:
        ids = [entry["id"] for entry in await admin.client_list() if entry.get("name") == name]
        assert ids, "the subscription connection is named"
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()


async def test_a_process_whose_subscription_is_down_does_not_serve_from_its_near_cache(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], settings: Settings
) -> None:
    user = await signed_in_user(client)
    project = await create_project(client, user)
    url = await _warm(other_instance, user, project)
    await _kill_subscription(settings, other_instance)
    # The other instance missed this notice: the writer waits until it has stopped using its near-cache.
    assert (await client.post("/api/auth/logout", headers=user.headers)).status_code == 204
    assert (await other_instance.get(url, headers=user.headers)).status_code == 401
    # It subscribes again (clearing what it held) and serves from its near-cache once live.
    second = await signed_in_user(client)
    other = await create_project(client, second)
    await _warm(other_instance, second, other)
