"""Cache-aside of project state and project lists: hits, misses, and no stale read after any write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.lib import cache
from tests.support.api import ApiUser, add_position, cache_events, create_project, csv_bytes


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


async def test_project_state_is_cached_and_counted(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], redis: aioredis.Redis
) -> None:
    url = f"/api/projects/{project['id']}"
    hits, misses = cache_events("project_state")
    assert (await client.get(url, headers=api_user.headers)).status_code == 200
    assert cache_events("project_state") == (hits, misses + 1)
    key = f"project:{project['id']}:state"
    assert await redis.exists(key)
    assert 0 < await redis.ttl(key) <= 3600
    served = await client.get(url, headers=api_user.headers)
    assert served.json()["id"] == project["id"]
    assert served.headers["content-type"] == "application/json"
    assert cache_events("project_state") == (hits + 1, misses + 1)
    metrics = await client.get("/metrics")
    assert 'concrete_agent_cache_events_total{cache="project_state",outcome="hit"}' in metrics.text


async def test_every_write_is_seen_by_the_next_read(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], redis: aioredis.Redis
) -> None:
    url = f"/api/projects/{project['id']}"
    await client.get(url, headers=api_user.headers)
    await client.patch(url, json={"name": "Po změně"}, headers=api_user.headers)
    assert (await client.get(url, headers=api_user.headers)).json()["name"] == "Po změně"

    added = await add_position(client, api_user, project["id"])
    state = (await client.get(url, headers=api_user.headers)).json()
    assert state["current_version"] == 1
    assert state["total_cost"] == added["position"]["total_price"]

    lineage = added["position"]["lineage_id"]
    await client.patch(
        f"/api/projects/{project['id']}/positions/{lineage}", json={"status": "RED"}, headers=api_user.headers
    )
    state = (await client.get(url, headers=api_user.headers)).json()
    assert (state["current_version"], state["issues_count_red"]) == (2, 1)

    await client.delete(f"/api/projects/{project['id']}/positions/{lineage}", headers=api_user.headers)
    state = (await client.get(url, headers=api_user.headers)).json()
    assert (state["current_version"], state["total_positions"], state["total_cost"]) == (3, 0, "0.00")

    before_upload = await redis.get(f"project:{project['id']}:state:gen")
    upload = await client.post(f"{url}/documents", files={"file": ("r.csv", csv_bytes())}, headers=api_user.headers)
    assert upload.status_code == 201
    assert await redis.get(f"project:{project['id']}:state:gen") != before_upload

    await client.delete(url, headers=api_user.headers)
    assert (await client.get(url, headers=api_user.headers)).status_code == 404


async def test_project_lists_are_cached_per_query_and_dropped_on_write(
    client: AsyncTestClient[Litestar], api_user: ApiUser, redis: aioredis.Redis
) -> None:
    first = await create_project(client, api_user)
    assert [p["id"] for p in (await client.get("/api/projects", headers=api_user.headers)).json()["items"]] == [
        first["id"]
    ]
    await client.get("/api/projects", params={"limit": 1}, headers=api_user.headers)
    key = f"user:{api_user.id}:projects"
    assert await redis.hlen(key) == 2  # one field per query
    generation = await redis.get(f"{key}:gen")
    second = await create_project(client, api_user)
    # One generation bump makes every page stale; nothing is deleted.
    assert await redis.get(f"{key}:gen") != generation
    assert await redis.hlen(key) == 2
    listing = (await client.get("/api/projects", headers=api_user.headers)).json()
    assert [p["id"] for p in listing["items"]] == [second["id"], first["id"]]
    await client.patch(f"/api/projects/{first['id']}", json={"name": "Přejmenováno"}, headers=api_user.headers)
    listing = (await client.get("/api/projects", headers=api_user.headers)).json()
    assert listing["items"][1]["name"] == "Přejmenováno"


async def test_a_failed_write_leaves_the_cache_alone(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], redis: aioredis.Redis
) -> None:
    url = f"/api/projects/{project['id']}"
    await client.get(url, headers=api_user.headers)
    cached = await redis.get(f"project:{project['id']}:state")
    assert (await client.patch(url, json={"status": "nonsense"}, headers=api_user.headers)).status_code == 400
    assert await redis.get(f"project:{project['id']}:state") == cached


async def test_a_reader_that_loaded_before_a_write_does_not_refill_the_cache(redis: aioredis.Redis) -> None:
    """The race cache-aside usually loses: read old row → writer commits + invalidates → reader stores old."""
    key = f"project:{uuid.uuid4()}:state"
    loading = asyncio.Event()
    release = asyncio.Event()

    async def slow_old_read() -> str:
        loading.set()
        await release.wait()
        return "old"

    async def fresh_read() -> str:
        return "new"

    reader = asyncio.create_task(cache.get_or_load(redis, key, slow_old_read, str, ttl_seconds=60))
    await loading.wait()
    await cache.invalidate(redis, key)  # the writer, after its commit
    release.set()
    assert await reader == "old"  # that reader answers with what it read ...
    assert not await redis.exists(key)  # ... but does not store it
    assert await cache.get_or_load(redis, key, fresh_read, str, ttl_seconds=60) == "new"


async def test_an_edit_puts_the_new_state_in_place_so_the_next_read_is_a_hit(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    url = f"/api/projects/{project['id']}"
    added = await add_position(client, api_user, project["id"])
    lineage = added["position"]["lineage_id"]
    edited = await client.patch(f"{url}/positions/{lineage}", json={"quantity": "3"}, headers=api_user.headers)
    assert edited.status_code == 200, edited.text
    hits, misses = cache_events("project_state")
    state = (await client.get(url, headers=api_user.headers)).json()
    assert cache_events("project_state") == (hits + 1, misses)  # written through by the edit
    assert state["current_version"] == 2
    assert state["total_cost"] == edited.json()["position"]["total_price"]
