"""The request gate across API instances: logout, suspension, role changes and edits made through one
instance are seen by the very next request to another, although a cached read in each instance is
answered from its near-cache with no Redis call (and costs one Redis call with the near-cache off),
and any other authenticated request is authenticated and counted there with no Redis call either.
`/api/me` is such a cached read: a change of the user is seen by their next request everywhere."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db.models import Project, User
from app.domain.accounts.cache import me_key
from app.domain.projects.cache import project_state_key
from app.lib import cache, near_cache
from app.lib.redis import create_redis
from app.lib.redis_events import RedisEventPublisher
from app.lib.unit_of_work import CommitContext, committed_session
from tests.support.api import (
    ApiUser,
    api_settings,
    build_test_app,
    create_project,
    login,
    make_admin,
    run_sql,
    signed_in_user,
    verification_token,
)
from tests.support.instances import near_of, redis_calls, until_live


@pytest.fixture
async def other_instance(settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A second API instance (its own app, Redis pool, engine and near-cache) on the same PostgreSQL and Redis."""
    async with AsyncTestClient(app=build_test_app(api_settings(settings, str(tmp_path / "storage")))) as client:
        yield client


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
        assert (await instance.get("/api/me", headers=api_user.headers)).status_code == 200
        with redis_calls(instance) as calls:
            # /api/me too: the gate reads its cached body with the session (no database read).
            assert (await instance.get("/api/me", headers=api_user.headers)).json()["id"] == api_user.id
            assert [call[0] for call in calls] == ["EVALSHA"]
            calls.clear()
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


def _session_or_rate_limit_reads(calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The commands among `calls` that name a session or a rate-limit window (the gate's Redis call)."""
    return [call for call in calls if any(str(arg).startswith(("session:", "ratelimit:")) for arg in call)]


async def test_any_route_is_authenticated_from_the_near_cache_and_session_changes_still_reach_it(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], settings: Settings
) -> None:
    """A route without a cache prefetch (the versions list) is authenticated and counted in the process;
    a role change and a logout made elsewhere are seen by its very next request all the same."""
    admin = await make_admin(client, settings)
    demoted = await make_admin(client, settings)
    user = await signed_in_user(client)
    project = await create_project(client, user)
    url = f"/api/projects/{project['id']}/versions"
    await until_live(other_instance)
    for caller in (user, demoted):
        for _ in range(2):  # the first request reads the session and leases tokens, the second proves the rest
            assert (await other_instance.get(url, headers=caller.headers)).status_code == 200
        with redis_calls(other_instance) as calls:
            assert (await other_instance.get(url, headers=caller.headers)).status_code == 200
        assert _session_or_rate_limit_reads(calls) == [], "authenticated and counted without Redis"

    changed = await client.patch(f"/api/admin/users/{demoted.id}", json={"role": "user"}, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    assert (await other_instance.get(url, headers=demoted.headers)).status_code == 404

    assert (await client.post("/api/auth/logout", headers=user.headers)).status_code == 204
    assert (await other_instance.get(url, headers=user.headers)).status_code == 401


async def _me(client: AsyncTestClient[Litestar], user: ApiUser) -> dict[str, Any]:
    answer = await client.get("/api/me", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _warm_me(client: AsyncTestClient[Litestar], user: ApiUser) -> dict[str, Any]:
    """Read /api/me until the instance answers it from its near-cache (no Redis call), and prove it."""
    await until_live(client)
    for _ in range(2):  # the first read may fill the cache, the second puts it in the near-cache
        await _me(client, user)
    with redis_calls(client) as calls:
        me = await _me(client, user)
    assert calls == [], "answered from the near-cache without Redis"
    return me


async def test_me_is_answered_from_the_near_cache_and_follows_the_users_changes_everywhere(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], settings: Settings
) -> None:
    admin = await make_admin(client, settings)
    user = await signed_in_user(client)
    me = await _warm_me(other_instance, user)
    assert (me["id"], me["email"], me["role"], me["status"]) == (user.id, user.email, "user", "pending")
    # The body not held, the session held: one Redis call reads the body, not the session again.
    near_of(other_instance).drop([me_key(user.id)])
    with redis_calls(other_instance) as calls:
        assert await _me(other_instance, user) == me
    assert [call[0] for call in calls] == ["EVALSHA"]
    assert not [arg for arg in calls[0] if str(arg).startswith("session:")]

    # A role change by an administrator in the other instance.
    changed = await client.patch(f"/api/admin/users/{user.id}", json={"role": "pro"}, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    assert (await _me(other_instance, user))["role"] == "pro"

    # The user's own e-mail verification.
    await _warm_me(other_instance, user)
    token = await verification_token(settings, user.email)
    assert (await client.post("/api/auth/verify-email", json={"token": token})).status_code == 200
    me = await _me(other_instance, user)
    assert (me["status"], me["email_verified"]) == ("active", True)

    # A sign-in elsewhere moves the last login.
    await _warm_me(other_instance, user)
    await login(client, user.email)
    assert (await _me(other_instance, user))["last_login_at"] > me["last_login_at"]

    # Suspension ends the session: 401, not the cached body.
    await _warm_me(other_instance, user)
    suspended = await client.patch(f"/api/admin/users/{user.id}", json={"status": "suspended"}, headers=admin.headers)
    assert suspended.status_code == 200, suspended.text
    assert (await other_instance.get("/api/me", headers=user.headers)).status_code == 401


async def test_a_name_changed_by_any_orm_writer_is_seen_by_the_next_me_everywhere(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    """No write path can forget /api/me: every ORM flush that changes a field it shows drops its cached
    body after the commit (a profile edit would be one more such writer)."""
    for instance in (client, other_instance):
        assert (await _warm_me(instance, api_user))["full_name"] == "Jana Nováková"
    app_settings: Settings = client.app.state.settings
    redis = create_redis(app_settings)
    engine = create_async_engine(app_settings.database_url)
    try:
        events = RedisEventPublisher(redis, app_settings.REDIS_NAMESPACE)
        context = CommitContext(settings=app_settings, redis=redis, events=events, bind=engine)
        async with committed_session(context) as session:
            user = await session.get(User, uuid.UUID(api_user.id))
            assert user is not None
            user.full_name = "Jana Nová"
    finally:
        await engine.dispose()
        await redis.aclose()
    for instance in (client, other_instance):
        assert (await _me(instance, api_user))["full_name"] == "Jana Nová"
