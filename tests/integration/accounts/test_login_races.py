"""A sign-in that overlaps a suspension or a role change: the password check takes a while (the hash
is slow on purpose), and an administrator's change committed meanwhile must still apply to the session
that sign-in opens — the very next request with it is refused or carries the new role."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.domain.accounts import services
from tests.support.api import (
    ApiUser,
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    make_admin,
    signed_in_user,
)


async def _login_across(
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    user: ApiUser,
    change: Callable[[], Awaitable[httpx.Response]],
) -> httpx.Response:
    """Sign `user` in, with `change` made and answered while the password is being checked."""
    checked, release = asyncio.Event(), asyncio.Event()
    real = services.verify_password

    async def paused(hashed: Any, password: str) -> bool:
        ok = await real(hashed, password)
        if not checked.is_set():
            checked.set()
            await release.wait()
        return ok

    monkeypatch.setattr(services, "verify_password", paused)
    signing_in = asyncio.create_task(
        http.post("/api/auth/login", json={"email": user.email, "password": user.password})
    )
    await asyncio.wait_for(checked.wait(), 10)
    changed = await change()
    assert changed.status_code == 200, changed.text
    release.set()
    return await asyncio.wait_for(signing_in, 10)


async def test_a_suspension_during_a_sign_in_leaves_no_live_session(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_test_app(api_settings(settings, str(tmp_path / "storage")))
    async with concurrent_client(app) as http:
        admin = await make_admin(http, settings)
        user = await signed_in_user(http)

        async def suspend() -> httpx.Response:
            return await http.patch(f"/api/admin/users/{user.id}", json={"status": "suspended"}, headers=admin.headers)

        answer = await _login_across(http, monkeypatch, user, suspend)
        if answer.status_code == 200:
            token = answer.json()["token"]
            me = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 401, "a suspended user is signed in"
        else:
            assert answer.status_code == 403, answer.text


async def test_a_role_change_during_a_sign_in_is_carried_by_its_session(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_test_app(api_settings(settings, str(tmp_path / "storage")))
    async with concurrent_client(app) as http:
        admin = await make_admin(http, settings)
        demoted = await make_admin(http, settings)
        owner = await signed_in_user(http)
        project = await create_project(http, owner)

        async def demote() -> httpx.Response:
            return await http.patch(f"/api/admin/users/{demoted.id}", json={"role": "user"}, headers=admin.headers)

        answer = await _login_across(http, monkeypatch, demoted, demote)
        assert answer.status_code == 200, answer.text
        headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        assert (await http.get("/api/me", headers=headers)).json()["role"] == "user"
        # Administrators see every project, users only their own.
        refused = await http.get(f"/api/projects/{project['id']}", headers=headers)
        assert refused.status_code == 404, "the session carries the role from before the change"


async def test_a_password_change_during_a_sign_in_with_the_old_one_leaves_no_live_session(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_test_app(api_settings(settings, str(tmp_path / "storage")))
    async with concurrent_client(app) as http:
        user = await signed_in_user(http)

        async def change_password() -> httpx.Response:
            changed = await http.post(
                "/api/me/password",
                json={"current_password": user.password, "new_password": "Jine-heslo-2026-dlouhe"},
                headers=user.headers,
            )
            assert changed.status_code == 204, changed.text
            return httpx.Response(200)

        answer = await _login_across(http, monkeypatch, user, change_password)
        if answer.status_code == 200:
            token = answer.json()["token"]
            me = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 401, "signed in with the password from before the change"
        else:
            assert answer.status_code == 401, answer.text
