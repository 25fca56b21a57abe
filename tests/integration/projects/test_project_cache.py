"""Cache-aside of project state and project lists: hits, misses, and no stale read after any write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.config import Settings
from app.db.models import Position, Project
from app.domain.projects.cache import project_state_key, write_project_state
from app.domain.projects.schemas import ProjectRead
from app.domain.projects.services import lock_project
from app.domain.projects.stages import ProjectStage
from app.lib import cache
from app.lib.redis import create_redis
from app.lib.unit_of_work import CommitContext, committed_session
from tests.support.api import ApiUser, add_position, cache_events, create_project, csv_bytes
from tests.support.job_runs import RecordedEvents


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    # As every writer of the app's (API processes, SAQ workers): its invalidations also drop the keys
    # from the API processes' near-caches, which the budget view and the list are served from.
    client = create_redis(settings)
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


async def test_project_lists_are_cached_per_query_as_ids_and_dropped_when_membership_changes(
    client: AsyncTestClient[Litestar], api_user: ApiUser, redis: aioredis.Redis, settings: Settings
) -> None:
    first = await create_project(client, api_user)
    assert [p["id"] for p in (await client.get("/api/projects", headers=api_user.headers)).json()["items"]] == [
        first["id"]
    ]
    await client.get("/api/projects", params={"limit": 1}, headers=api_user.headers)
    key = f"user:{api_user.id}:projects"
    assert await redis.hlen(key) == 2  # one field per query ...
    stored = await redis.hvals(key)
    assert all(entry.endswith(f"\x1f{api_user.id}\x1f1,{first['id']}".encode()) for entry in stored)  # ... ids only
    generation = await redis.get(f"{key}:gen")
    second = await create_project(client, api_user)
    # One generation bump makes every page stale; nothing is deleted.
    assert await redis.get(f"{key}:gen") != generation
    assert await redis.hlen(key) == 2
    await _assert_exact(client, api_user, settings)
    assert [p["id"] for p in (await _listing(client, api_user))["items"]] == [second["id"], first["id"]]
    await client.patch(f"/api/projects/{first['id']}", json={"name": "Přejmenováno"}, headers=api_user.headers)
    listing = await _assert_exact(client, api_user, settings)
    assert listing["items"][1]["name"] == "Přejmenováno"


async def _listing(client: AsyncTestClient[Litestar], user: ApiUser, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/projects", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return dict(response.json())


async def _in_database(settings: Settings, owner_id: str, **params: Any) -> dict[str, Any]:
    """The list as PostgreSQL has it right now (no cache): own projects, newest first, filtered and paged."""
    statement = select(Project).where(Project.owner_id == uuid.UUID(owner_id))
    if "status" in params:
        statement = statement.where(Project.status == params["status"])
    if "q" in params:
        statement = statement.where(
            Project.name.ilike(f"%{params['q']}%") | Project.description.ilike(f"%{params['q']}%")
        )
    engine = create_async_engine(settings.database_url)
    try:
        async with AsyncSession(engine) as session:
            rows = list(await session.scalars(statement.order_by(Project.created_at.desc(), Project.id.desc())))
    finally:
        await engine.dispose()
    limit, offset = int(params.get("limit", 50)), int(params.get("offset", 0))
    items = [msgspec.to_builtins(ProjectRead.from_model(row)) for row in rows[offset : offset + limit]]
    return {"items": items, "total": len(rows), "limit": limit, "offset": offset}


async def _assert_exact(
    client: AsyncTestClient[Litestar], user: ApiUser, settings: Settings, **params: Any
) -> dict[str, Any]:
    """The list the API answers (cached or not) is exactly what PostgreSQL holds, items and all."""
    listing = await _listing(client, user, **params)
    assert listing == await _in_database(settings, user.id, **params)
    return listing


LIST_QUERIES: list[dict[str, Any]] = [
    {},
    {"limit": 1, "offset": 1},
    {"status": "completed"},
    {"q": "Přejmenov"},
    {"workflow": "workflow_a"},
]


async def _assert_all_exact(client: AsyncTestClient[Litestar], user: ApiUser, settings: Settings) -> None:
    for params in LIST_QUERIES:
        await _assert_exact(client, user, settings, **params)


async def test_an_edit_of_a_project_keeps_the_lists_hits_and_shows_it(
    client: AsyncTestClient[Litestar], api_user: ApiUser, redis: aioredis.Redis, settings: Settings
) -> None:
    a = await create_project(client, api_user)
    b = await create_project(client, api_user)
    lineage = (await add_position(client, api_user, a["id"]))["position"]["lineage_id"]
    await _assert_all_exact(client, api_user, settings)  # fills every page
    await _listing(client, api_user)  # and the state entries of their projects
    list_generation = await redis.get(f"user:{api_user.id}:projects:gen")
    b_state = await redis.get(f"project:{b['id']}:state")
    b_generation = await redis.get(f"project:{b['id']}:state:gen")

    edited = await client.patch(
        f"/api/projects/{a['id']}/positions/{lineage}", json={"quantity": "7"}, headers=api_user.headers
    )
    assert edited.status_code == 200, edited.text
    hits, misses = cache_events("project_list")
    listing = await _assert_exact(client, api_user, settings)
    assert cache_events("project_list") == (hits + 1, misses)  # the page and A's new state were in place
    edited_item = next(item for item in listing["items"] if item["id"] == a["id"])
    assert (edited_item["current_version"], edited_item["total_cost"]) == (2, edited.json()["position"]["total_price"])
    # The edit of A dropped neither the user's pages nor B's entry.
    assert await redis.get(f"user:{api_user.id}:projects:gen") == list_generation
    assert await redis.get(f"project:{b['id']}:state") == b_state
    assert await redis.get(f"project:{b['id']}:state:gen") == b_generation
    await _assert_all_exact(client, api_user, settings)


async def test_the_lists_are_exact_after_every_kind_of_write(
    client: AsyncTestClient[Litestar], api_user: ApiUser, settings: Settings
) -> None:
    a = await create_project(client, api_user)
    await _assert_all_exact(client, api_user, settings)
    b = await create_project(client, api_user, description="Most přes Vltavu")
    await _assert_all_exact(client, api_user, settings)
    url = f"/api/projects/{a['id']}"
    for change in ({"name": "Přejmenováno"}, {"status": "completed"}, {"description": "Přejmenovaná stavba"}):
        assert (await client.patch(url, json=change, headers=api_user.headers)).status_code == 200
        await _assert_all_exact(client, api_user, settings)
    await add_position(client, api_user, b["id"])
    await _assert_all_exact(client, api_user, settings)
    assert (await client.patch(url, json={"status": "draft"}, headers=api_user.headers)).status_code == 200
    await _assert_all_exact(client, api_user, settings)
    upload = await client.post(f"{url}/documents", files={"file": ("r.csv", csv_bytes())}, headers=api_user.headers)
    assert upload.status_code == 201  # drops A's state without writing it through
    await _assert_all_exact(client, api_user, settings)
    assert (await client.delete(url, headers=api_user.headers)).status_code == 204
    await _assert_all_exact(client, api_user, settings)
    assert [p["id"] for p in (await _listing(client, api_user))["items"]] == [b["id"]]


async def test_other_users_writes_leave_a_list_exact(
    client: AsyncTestClient[Litestar],
    api_user: ApiUser,
    other_user: ApiUser,
    admin_user: ApiUser,
    settings: Settings,
) -> None:
    mine = await create_project(client, api_user)
    await _assert_all_exact(client, api_user, settings)
    await create_project(client, other_user)
    hits, misses = cache_events("project_list")
    await _assert_exact(client, api_user, settings)
    assert cache_events("project_list") == (hits + 1, misses)  # nothing of this user changed
    # An administrator renames and completes the user's project: the owner's lists follow.
    url = f"/api/projects/{mine['id']}"
    changed = await client.patch(url, json={"name": "Přejmenováno", "status": "completed"}, headers=admin_user.headers)
    assert changed.status_code == 200, changed.text
    await _assert_all_exact(client, api_user, settings)
    await add_position(client, admin_user, mine["id"])
    await _assert_all_exact(client, api_user, settings)
    assert (await client.delete(url, headers=admin_user.headers)).status_code == 204
    await _assert_all_exact(client, api_user, settings)


async def test_a_jobs_status_and_progress_reach_the_lists(
    client: AsyncTestClient[Litestar], api_user: ApiUser, redis: aioredis.Redis, settings: Settings
) -> None:
    """A job writes the status and the progress with SQL of its own (app.domain.projects.stages)."""
    project = await create_project(client, api_user)
    await _assert_all_exact(client, api_user, settings)
    for status in ("parsing", "failed"):  # cached empty before the job writes
        assert (await _assert_exact(client, api_user, settings, status=status))["total"] == 0
    engine = create_async_engine(settings.database_url)
    context = CommitContext(settings=settings, redis=redis, events=RecordedEvents(), bind=engine)
    try:
        stage = ProjectStage(context, uuid.UUID(project["id"]), "parsing")
        await stage.enter()
        await _assert_exact(client, api_user, settings, status="parsing")
        await _assert_all_exact(client, api_user, settings)
        list_generation = await redis.get(f"user:{api_user.id}:projects:gen")
        await stage.progress(0.5)
        listing = await _assert_exact(client, api_user, settings)
        assert listing["items"][0]["progress"] == "50.00"
        assert await redis.get(f"user:{api_user.id}:projects:gen") == list_generation  # progress moves no page
        stage.fail_after_rollback()
        await _poll(lambda: _in_database(settings, api_user.id, status="failed"), lambda page: page["total"] == 1)
        await _assert_all_exact(client, api_user, settings)
        await _assert_exact(client, api_user, settings, status="failed")
    finally:
        await engine.dispose()


async def _poll(read: Any, done: Any, seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not done(await read()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


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


async def test_the_budget_view_is_cached_and_dropped_by_every_write_to_the_project(
    client: AsyncTestClient[Litestar],
    api_user: ApiUser,
    project: dict[str, Any],
    redis: aioredis.Redis,
    settings: Settings,
) -> None:
    url = f"/api/projects/{project['id']}/positions"
    lineage = (await add_position(client, api_user, project["id"]))["position"]["lineage_id"]
    await add_position(client, api_user, project["id"], code="272326")
    first = await client.get(url, headers=api_user.headers)
    hits, misses = cache_events("position_page")
    second = await client.get(url, headers=api_user.headers)
    assert cache_events("position_page") == (hits + 1, misses)
    assert (second.json(), second.headers["etag"]) == (first.json(), '"2"')
    assert second.headers["content-type"] == "application/json"

    engine = create_async_engine(settings.database_url)
    context = CommitContext(settings=settings, redis=redis, events=RecordedEvents(), bind=engine)
    try:
        # A job writes a verdict in place (the same version), under the project's lock.
        async with committed_session(context) as session:
            await lock_project(session, None, uuid.UUID(project["id"]))
            await session.execute(
                update(Position).where(Position.lineage_id == uuid.UUID(lineage)).values(status="RED")
            )
        verdicts = await client.get(url, headers=api_user.headers)
        assert verdicts.headers["etag"] == '"2"'
        assert {p["lineage_id"]: p["status"] for p in verdicts.json()["items"]}[lineage] == "RED"
        # Progress alone keeps the pages.
        await ProjectStage(context, uuid.UUID(project["id"]), "draft").progress(0.5)
        hits, misses = cache_events("position_page")
        assert (await client.get(url, headers=api_user.headers)).json() == verdicts.json()
        assert cache_events("position_page") == (hits + 1, misses)
    finally:
        await engine.dispose()

    edited = await client.patch(f"{url}/{lineage}", json={"quantity": "3"}, headers=api_user.headers)
    assert edited.status_code == 200, edited.text
    after_edit = await client.get(url, headers=api_user.headers)
    assert after_edit.headers["etag"] == '"3"'
    assert {p["lineage_id"]: p["quantity"] for p in after_edit.json()["items"]}[lineage] == "3.0000"
    # Filtered, larger or older pages are read from PostgreSQL, never from this cache.
    hits, misses = cache_events("position_page")
    for params in ({"status": "RED"}, {"limit": 200}, {"version": 1}):
        assert (await client.get(url, params=params, headers=api_user.headers)).status_code == 200
    assert cache_events("position_page") == (hits, misses)


async def test_a_write_through_never_hides_another_write(redis: aioredis.Redis) -> None:
    """An edit puts the state it committed in place with its own bump, only if no other write bumped the
    state's generation since the edit read it before its commit: that write may have committed after
    the edit (it waited for the row lock) and bumped first."""
    project_id = uuid.uuid4()
    key = project_state_key(project_id)
    state = cache.CachedBytes("owner", b'{"v":1}')

    seen = await redis.get(cache.generation_key(key)) or b"0"
    await write_project_state(redis, project_id, state, seen, ttl_seconds=60)
    read = cache.cache_read_of(await redis.mget(cache.generation_key(key), key))
    assert cache.current_entry(read) == state  # alone: written through

    seen = await redis.get(cache.generation_key(key)) or b"0"
    await cache.invalidate(redis, key)  # another write's bump lands between the read and ours
    await write_project_state(redis, project_id, cache.CachedBytes("owner", b'{"v":2}'), seen, ttl_seconds=60)
    read = cache.cache_read_of(await redis.mget(cache.generation_key(key), key))
    assert cache.current_entry(read) is None  # dropped, not replaced: the next read loads it
