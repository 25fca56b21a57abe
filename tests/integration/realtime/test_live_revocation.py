"""Live revocation: logout, suspension, a role change and a password change close the user's open
sockets on another API process within a second; sockets of other sessions stay open."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.domain.accounts.passwords import hash_password
from app.domain.accounts.sessions import create_session
from app.lib.events import user_channel
from tests.support.live import LiveApi, LiveProcess, LiveUser, create_live_user, run_sql
from tests.support.sockets import EventSocket

Cluster = tuple[LiveApi, LiveApi, LiveProcess]
PASSWORD = "Correct-horse-battery-1"


async def _another_session(settings: Settings, user: LiveUser) -> str:
    redis = Redis.from_url(settings.redis_url)
    try:
        token, _ = await create_session(
            redis, user_id=user.id, email=user.email, role=user.role, status="active", ttl_seconds=3600
        )
    finally:
        await redis.aclose()
    return token


async def _open(api: LiveApi, token: str, user: LiveUser) -> EventSocket:
    socket = await EventSocket.open(api.ws_url, token)
    await socket.subscribed(user_channel(user.id))
    return socket


async def _closed_within(socket: EventSocket, seconds: float) -> float:
    """Seconds until the server closed the socket with 1008; fails if it did not within `seconds`."""
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while time.monotonic() - started < seconds:
            await socket.next_event(timeout=seconds)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    return time.monotonic() - started


async def _still_open(socket: EventSocket) -> None:
    assert (await socket.barrier()) is not None  # answers a ping with a pong


async def test_logout_closes_that_sessions_sockets_on_another_process(
    live_cluster: Cluster, live_settings: Settings, owner: LiveUser
) -> None:
    api_a, api_b, _ = live_cluster
    other_token = await _another_session(live_settings, owner)
    ended = await _open(api_b, owner.token, owner)
    kept = await _open(api_b, other_token, owner)
    try:
        async with httpx.AsyncClient(base_url=api_a.url) as client:
            assert (await client.post("/api/auth/logout", headers=owner.headers)).status_code == 204
        assert await _closed_within(ended, 1.0) < 1.0
        await _still_open(kept)
    finally:
        await ended.close()
        await kept.close()


async def test_suspension_and_role_change_close_every_socket_of_the_user(
    live_cluster: Cluster, live_settings: Settings
) -> None:
    api_a, api_b, _ = live_cluster
    admin = await create_live_user(live_settings, role="admin")
    suspended, demoted = await create_live_user(live_settings), await create_live_user(live_settings, role="admin")
    bystander = await create_live_user(live_settings)
    sockets = [await _open(api_b, user.token, user) for user in (suspended, demoted, bystander)]
    try:
        async with httpx.AsyncClient(base_url=api_a.url, headers=admin.headers) as client:
            answer = await client.patch(f"/api/admin/users/{suspended.id}", json={"status": "suspended"})
            assert answer.status_code == 200, answer.text
            assert await _closed_within(sockets[0], 1.0) < 1.0
            answer = await client.patch(f"/api/admin/users/{demoted.id}", json={"role": "user"})
            assert answer.status_code == 200, answer.text
            assert await _closed_within(sockets[1], 1.0) < 1.0
        await _still_open(sockets[2])
        # The demoted user reconnects with the same (still valid) session and now has the new role.
        again = await _open(api_b, demoted.token, demoted)
        assert (await again.join(uuid.uuid4()))["type"] == "error"
        await again.close()
    finally:
        for socket in sockets:
            await socket.close()


async def test_a_password_change_closes_the_other_sessions_sockets(
    live_cluster: Cluster, live_settings: Settings, owner: LiveUser
) -> None:
    api_a, api_b, _ = live_cluster
    await run_sql(
        live_settings,
        "UPDATE users SET password_hash = :hash WHERE id = :id",
        hash=await hash_password(PASSWORD),
        id=owner.id,
    )
    other_token = await _another_session(live_settings, owner)
    changer = await _open(api_b, owner.token, owner)
    other = await _open(api_b, other_token, owner)
    try:
        async with httpx.AsyncClient(base_url=api_a.url, headers=owner.headers) as client:
            wrong = await client.post(
                "/api/me/password", json={"current_password": "wrong-one-123", "new_password": "New-password-456"}
            )
            assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "current_password"
            changed = await client.post(
                "/api/me/password", json={"current_password": PASSWORD, "new_password": "New-password-456"}
            )
            assert changed.status_code == 204, changed.text
            assert await _closed_within(other, 1.0) < 1.0
            await _still_open(changer)
            assert (await client.get("/api/me")).status_code == 200  # this session stays signed in
        async with httpx.AsyncClient(base_url=api_b.url) as client:
            gone = await client.get("/api/me", headers={"Authorization": f"Bearer {other_token}"})
            assert gone.status_code == 401
    finally:
        await changer.close()
        await other.close()
