"""The default pages (`GET /api/projects`, `.../positions`, `.../versions` without a query string) are
answered before the handler's dependencies: from the instance's near-cache with no Redis call once
warm, yet an edit made through another instance is seen by the very next read, and another user's
project stays a 404 however warm the cache is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.support.api import ApiUser, add_position, api_settings, build_test_app, create_project
from tests.support.instances import redis_calls, until_live


@pytest.fixture
async def other_instance(settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A second API instance (its own app, Redis pool, engine and near-cache) on the same PostgreSQL and Redis."""
    async with AsyncTestClient(app=build_test_app(api_settings(settings, str(tmp_path / "storage")))) as client:
        yield client


def _urls(project_id: str) -> list[str]:
    return ["/api/projects", f"/api/projects/{project_id}/positions", f"/api/projects/{project_id}/versions"]


async def _warm(client: AsyncTestClient[Litestar], user: ApiUser, urls: list[str]) -> dict[str, Any]:
    """Read each page until the instance answers it from its near-cache (no Redis call), checking that
    this answer is the one its first read gave (loaded by the handler); those answers."""
    await until_live(client)
    answers = {}
    for url in urls:
        first = await client.get(url, headers=user.headers)
        assert first.status_code == 200, first.text
        for _ in range(2):  # a miss fills the cache, a hit from Redis fills the near-cache
            assert (await client.get(url, headers=user.headers)).status_code == 200
        with redis_calls(client) as calls:
            response = await client.get(url, headers=user.headers)
        assert response.status_code == 200, response.text
        assert calls == [], f"{url} answered from the near-cache without Redis"
        assert response.json() == first.json()
        for header in ("etag", "content-type", "content-encoding", "vary", "cache-control"):
            assert response.headers.get(header) == first.headers.get(header), header
        assert response.headers["x-request-id"] != first.headers["x-request-id"]
        answers[url] = response
    return answers


async def test_warm_default_pages_make_no_redis_call_and_answer_as_the_handler_does(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    await add_position(client, api_user, project["id"])
    await add_position(client, api_user, project["id"], code="272326")
    for number in range(12):  # a page over 2 kB: sent gzipped, as the app compresses it
        await add_position(client, api_user, project["id"], code=f"2723{number:02d}", description="Beton " * 10)
    urls = _urls(project["id"])
    warm = await _warm(client, api_user, urls)
    assert warm[urls[1]].headers["content-encoding"] == "gzip"
    for url in urls:  # a query string takes the handler (its dependencies, its filters), same page
        response = await client.get(f"{url}?limit=50&offset=0", headers=api_user.headers)
        assert response.status_code == 200, response.text
        assert response.json() == warm[url].json()
        assert response.headers.get("etag") == warm[url].headers.get("etag")
    # The same page read by the ORM path (an explicit version is never cached).
    by_version = await client.get(f"{urls[1]}?version=14", headers=api_user.headers)
    assert by_version.json() == warm[urls[1]].json()
    assert warm[urls[1]].headers["etag"] == '"14"'
    assert len(warm[urls[1]].json()["items"]) == 14
    assert [v["version"] for v in warm[urls[2]].json()["items"]] == list(range(14, 0, -1))


async def test_an_edit_is_seen_by_the_next_default_page_elsewhere(
    client: AsyncTestClient[Litestar], other_instance: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    position = (await add_position(client, api_user, project["id"]))["position"]
    urls = _urls(project["id"])
    await _warm(other_instance, api_user, urls)
    edited = await client.patch(
        f"/api/projects/{project['id']}/positions/{position['lineage_id']}",
        json={"quantity": "7"},
        headers=api_user.headers,
    )
    assert edited.status_code == 200, edited.text
    listing, positions, versions = [(await other_instance.get(url, headers=api_user.headers)) for url in urls]
    assert [p["current_version"] for p in listing.json()["items"]] == [2]
    assert positions.headers["etag"] == '"2"'
    assert [p["quantity"] for p in positions.json()["items"]] == ["7.0000"]
    assert [v["version"] for v in versions.json()["items"]] == [2, 1]
    renamed = await client.patch(
        f"/api/projects/{project['id']}", json={"name": "Nové jméno"}, headers=api_user.headers
    )
    assert renamed.status_code == 200, renamed.text
    listing = await other_instance.get(urls[0], headers=api_user.headers)
    assert [p["name"] for p in listing.json()["items"]] == ["Nové jméno"]


async def test_another_users_project_is_a_404_however_warm(
    client: AsyncTestClient[Litestar], api_user: ApiUser, other_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    await add_position(client, api_user, project["id"])
    urls = _urls(project["id"])
    await _warm(client, api_user, urls)
    await create_project(client, other_user, name="Cizí projekt")
    for url in urls[1:]:
        assert (await client.get(url, headers=other_user.headers)).status_code == 404
    listing = await client.get(urls[0], headers=other_user.headers)
    assert [p["name"] for p in listing.json()["items"]] == ["Cizí projekt"]


async def test_no_answer_of_the_api_may_be_stored_by_a_cache(
    client: AsyncTestClient[Litestar], api_user: ApiUser, other_user: ApiUser
) -> None:
    """Every user reads `/api/projects` (and `/api/me`) at the same URL, told apart only by the
    Authorization header or the session cookie: an answer without `Cache-Control` may be kept by a
    shared cache (a proxy, a CDN) and given to the next user. Each API answer says `no-store`, whoever
    answers it: the request gate (a cached project, /api/me), the near-cache's held pages, the hooks,
    the handlers (a query string), errors, and the sign-in whose body holds the token."""
    project = await create_project(client, api_user)
    for number in range(12):  # pages over 2 kB: held gzipped
        await add_position(client, api_user, project["id"], code=f"2723{number:02d}", description="Beton " * 10)
    urls = [*_urls(project["id"]), f"/api/projects/{project['id']}", "/api/me"]
    await until_live(client)
    for url in urls:
        answers = [await client.get(url, headers=api_user.headers) for _ in range(4)]  # miss, hits, held
        answers.append(await client.get(f"{url}?limit=50", headers=api_user.headers))
        answers.append(await client.get(url, headers=other_user.headers))  # 404 for another's project
        answers.append(await client.get(url))  # 401
        for answer in answers:
            assert answer.headers.get("cache-control") == "no-store", (url, answer.status_code, answer.headers)
    login = await client.post("/api/auth/login", json={"email": api_user.email, "password": api_user.password})
    assert login.status_code == 200
    assert login.headers.get("cache-control") == "no-store"
