"""A page of positions loaded by a read that overlapped an edit: the read took the project's state
(its version number) before the edit and the page's cache generation after the edit's bump, so it
stores the page of the OLD version under the NEW generation. Through two instances:

- no client is ever served that page once the edit has been answered (pages are tagged with the
  version they show and served only when the tag is the state's current version);
- the next read of that page puts the current version's page in its place (before, the stray entry
  stayed current until the next write or its TTL, and every read of that page went to PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis

from app.config import Settings
from app.domain.projects.cache import project_positions_key
from app.lib import cache
from tests.support.api import (
    add_position,
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    signed_in_user,
)

PAGE = "?limit=20"  # a page the full path caches (the default page is the request gate's)
PAGE_FIELD = "latest:20:0"


def _page_read_paused(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The first cached positions page read (in either instance) waits, after the project's state was
    read and before the page's generation is, until `release` is set; `reached` tells it got there."""
    reached, release = asyncio.Event(), asyncio.Event()
    real = cache.get_or_load_entry

    async def paused(*args: Any, **options: Any) -> cache.CachedBytes | None:
        if options.get("family") == "position_page" and not reached.is_set():
            reached.set()
            await release.wait()
        return await real(*args, **options)

    monkeypatch.setattr(cache, "get_or_load_entry", paused)
    return reached, release


async def _cached_page_tag(redis: Redis, project_id: str) -> str | None:
    """The version tag of the cached page, if it is current."""
    key = project_positions_key(project_id)
    generation, stored = await redis.get(cache.generation_key(key)), await redis.hget(key, PAGE_FIELD)
    entry = cache.current_entry(cache.CacheRead(generation or b"0", stored))
    return None if entry is None else entry.tag


def _shows(answer: httpx.Response, positions: int, version: int) -> None:
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == f'"{version}"'
    assert answer.json()["total"] == positions, "a page older than an acknowledged edit"


async def test_a_page_of_the_version_before_an_edit_is_never_served_after_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first: Litestar = build_test_app(api_settings(settings, str(tmp_path / "a")))
    second: Litestar = build_test_app(api_settings(settings, str(tmp_path / "b")))
    async with concurrent_client(first) as a, concurrent_client(second) as b:
        owner = await signed_in_user(a)
        project = await create_project(a, owner)
        project_id = project["id"]
        await add_position(a, owner, project_id)
        url = f"/api/projects/{project_id}/positions"
        for instance in (a, b):
            _shows(await instance.get(url + PAGE, headers=owner.headers), 1, 1)

        reached, release = _page_read_paused(monkeypatch)
        overlapping = asyncio.create_task(b.get(url + PAGE, headers=owner.headers))
        await asyncio.wait_for(reached.wait(), 10)
        await add_position(a, owner, project_id, code="272326")  # version 2, answered
        release.set()
        _shows(await asyncio.wait_for(overlapping, 10), 1, 1)  # began before the edit: version 1
        assert await _cached_page_tag(first.state.redis, project_id) == "1"  # the stray entry

        for instance in (a, b):
            _shows(await instance.get(url + PAGE, headers=owner.headers), 2, 2)
            _shows(await instance.get(url, headers=owner.headers), 2, 2)  # the default page, from the gate
        assert await _cached_page_tag(first.state.redis, project_id) == "2", "the stray entry stayed"
