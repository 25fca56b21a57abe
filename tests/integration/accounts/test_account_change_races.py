"""Two administrators changing one user at once, through two API instances: whatever order their
commits and their rewrites of the user's live sessions land in, the sessions end up carrying what
PostgreSQL holds (a demoted administrator never keeps admin rights), in both instances."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from app.config import Settings
from app.db.models import User
from app.domain.accounts import sessions
from tests.support.api import (
    ApiUser,
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    make_admin,
    run_sql,
    signed_in_user,
    verification_token,
)

_LOCK_WAITS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def _lock_waits(settings: Settings) -> int:
    return int((await run_sql(settings, _LOCK_WAITS))[0][0])


async def _as_far_as_it_gets(settings: Settings, request: asyncio.Task[httpx.Response], seconds: float = 10.0) -> None:
    """Poll until `request` is answered or waits for a row lock in PostgreSQL."""
    deadline = time.monotonic() + seconds
    while not request.done() and await _lock_waits(settings) == 0:
        assert time.monotonic() < deadline, "the second change neither finished nor waited for a lock"
        await asyncio.sleep(0.01)


def _first_rewrite_paused(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The first rewrite of a user's sessions (in either instance) waits, right before it writes,
    until `release` is set; `reached` tells that it got there."""
    reached, release = asyncio.Event(), asyncio.Event()
    real = sessions.update_user_sessions

    async def paused(redis: Any, user_id: Any, **values: Any) -> None:
        if not reached.is_set():
            reached.set()
            await release.wait()
        await real(redis, user_id, **values)

    monkeypatch.setattr(sessions, "update_user_sessions", paused)
    return reached, release


async def _race(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    first: Callable[[], Awaitable[httpx.Response]],
    second: Callable[[], Awaitable[httpx.Response]],
) -> None:
    """`first` committed and about to rewrite the sessions when `second` is made; `first`'s rewrite goes
    on once `second` is answered or waits for it (whichever the code allows)."""
    reached, release = _first_rewrite_paused(monkeypatch)
    first_task = asyncio.create_task(first())
    await asyncio.wait_for(reached.wait(), 10)
    second_task = asyncio.create_task(second())
    await _as_far_as_it_gets(settings, second_task)
    release.set()
    for answer in await asyncio.wait_for(asyncio.gather(first_task, second_task), 20):
        assert answer.status_code == 200, answer.text


async def _role_in_database(settings: Settings, user: ApiUser) -> str:
    rows = await run_sql(settings, select(User.role).where(User.id == uuid.UUID(user.id)))
    return str(rows[0][0])


async def test_a_demotion_racing_a_promotion_leaves_sessions_with_the_committed_role(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_app = build_test_app(api_settings(settings, str(tmp_path / "a")))
    second_app = build_test_app(api_settings(settings, str(tmp_path / "b")))
    async with concurrent_client(first_app) as a, concurrent_client(second_app) as b:
        promoting = await make_admin(a, settings)  # type: ignore[arg-type]
        demoting = await make_admin(a, settings)  # type: ignore[arg-type]
        owner = await signed_in_user(a)
        project = await create_project(a, owner)
        user = await signed_in_user(a)
        url = f"/api/projects/{project['id']}"
        for instance in (a, b):  # the user's session is held by both instances' near-caches
            assert (await instance.get(url, headers=user.headers)).status_code == 404

        async def promote() -> httpx.Response:
            return await a.patch(f"/api/admin/users/{user.id}", json={"role": "admin"}, headers=promoting.headers)

        async def demote() -> httpx.Response:
            return await b.patch(f"/api/admin/users/{user.id}", json={"role": "user"}, headers=demoting.headers)

        await _race(settings, monkeypatch, promote, demote)

        assert await _role_in_database(settings, user) == "user"
        for instance in (a, b):
            assert (await instance.get("/api/me", headers=user.headers)).json()["role"] == "user"
            # Administrators see every project, users only their own.
            seen = await instance.get(url, headers=user.headers)
            assert seen.status_code == 404, "the session carries a role the database does not hold"


async def test_a_role_change_racing_a_verification_leaves_sessions_with_the_committed_row(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E-mail verification rewrites the sessions too (status pending -> active): with a promotion
    committed after it, the sessions end with both (the role of the one, the status of the other)."""
    first_app = build_test_app(api_settings(settings, str(tmp_path / "a")))
    second_app = build_test_app(api_settings(settings, str(tmp_path / "b")))
    async with concurrent_client(first_app) as a, concurrent_client(second_app) as b:
        admin = await make_admin(a, settings)  # type: ignore[arg-type]
        owner = await signed_in_user(a)
        project = await create_project(a, owner)
        user = await signed_in_user(a)  # pending: not verified yet
        token = await verification_token(settings, user.email)
        url = f"/api/projects/{project['id']}"

        async def verify() -> httpx.Response:
            return await a.post("/api/auth/verify-email", json={"token": token})

        async def promote() -> httpx.Response:
            return await b.patch(f"/api/admin/users/{user.id}", json={"role": "admin"}, headers=admin.headers)

        await _race(settings, monkeypatch, verify, promote)

        rows = await run_sql(settings, select(User.role, User.status).where(User.id == uuid.UUID(user.id)))
        assert tuple(rows[0]) == ("admin", "active")
        for instance in (a, b):
            me = (await instance.get("/api/me", headers=user.headers)).json()
            assert (me["role"], me["status"]) == ("admin", "active")
            assert (await instance.get(url, headers=user.headers)).status_code == 200, "the session lost the role"
