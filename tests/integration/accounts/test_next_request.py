"""The request gate across API instances: logout, suspension, role changes and edits made through one
instance are seen by the very next request to another, and a cached read costs one Redis call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.support.api import ApiUser, api_settings, build_test_app, create_project, make_admin, signed_in_user


@pytest.fixture
async def other_instance(settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A second API instance (its own app, Redis pool and engine) on the same PostgreSQL and Redis."""
    async with AsyncTestClient(app=build_test_app(api_settings(settings, str(tmp_path / "storage")))) as client:
        yield client


async def _warm(client: AsyncTestClient[Litestar], user: ApiUser, project: dict[str, Any]) -> str:
    url = f"/api/projects/{project['id']}"
    for _ in range(2):  # the second read is a cache hit in that instance
        answer = await client.get(url, headers=user.headers)
        assert answer.status_code == 200, answer.text
    return url


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
    assert (await other_instance.get(url, headers=demoted.headers)).status_code == 200  # admins see all

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


async def test_a_cached_authenticated_read_costs_one_redis_call(
    app: Litestar, client: AsyncTestClient[Litestar], api_user: ApiUser, other_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    url = await _warm(client, api_user, project)
    redis = app.state.redis
    calls: list[tuple[Any, ...]] = []
    execute = redis.execute_command

    async def counted(*args: Any, **options: Any) -> Any:
        calls.append(args)
        return await execute(*args, **options)

    redis.execute_command = counted
    try:
        answer = await client.get(url, headers=api_user.headers)
        assert answer.status_code == 200
        assert answer.json()["id"] == project["id"]
        assert [call[0] for call in calls] == ["EVALSHA"]
        calls.clear()
        # Someone else's project: still one call, and a 404 (the owner tag is checked, the state not decoded).
        assert (await client.get(url, headers=other_user.headers)).status_code == 404
    finally:
        redis.execute_command = execute
