"""A hostile WebSocket message gets an `error` event and leaves the socket working."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.domain.accounts.sessions import SESSION_COOKIE
from tests.support.live import LiveApi, create_live_user, live_env, start_api, wait_until_ready
from tests.support.sockets import EventSocket

pytestmark = pytest.mark.slow

MESSAGE_TOO_BIG = 1009  # RFC 6455


@pytest.fixture(scope="module")
async def live_api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveApi]:
    api = start_api(live_env(settings), Path(tmp_path_factory.mktemp("socket-logs")))
    try:
        await wait_until_ready(api)
        yield api
    finally:
        api.process.stop()


async def test_a_deeply_nested_message_is_an_error_event(live_api: LiveApi, settings: Settings) -> None:
    user = await create_live_user(settings)
    socket = await EventSocket.open(live_api.ws_url, user.token)
    try:
        await socket.wait_for(lambda e: e["type"] == "subscribed", what="the user's channel")
        deep = '{"action": "ping", "x": ' + "[" * 2000 + "]" * 2000 + "}"  # under MAX_CLIENT_MESSAGE_CHARACTERS
        await socket.connection.send(deep)
        error = await socket.wait_for(lambda e: e["type"] == "error", what="an error event")
        assert "nested too deeply" in error["data"]["message"]
        await socket.send({"action": "ping"})
        await socket.wait_for(lambda e: e["type"] == "pong", what="pong: the socket still reads")
    finally:
        await socket.connection.close()


async def test_a_message_past_the_size_bound_closes_the_socket_with_1009(live_api: LiveApi, settings: Settings) -> None:
    """Client messages are a few hundred bytes; a frame of megabytes was decoded and its action echoed
    whole in the error event, which the outbox kept (up to its backlog) for a client that reads nothing."""
    user = await create_live_user(settings)
    socket = await EventSocket.open(live_api.ws_url, user.token, max_size=None)
    try:
        await socket.wait_for(lambda e: e["type"] == "subscribed", what="the user's channel")
        await socket.connection.send('{"action": "' + "x" * 1_000_000 + '"}')
        with pytest.raises(ConnectionClosed):
            await socket.wait_for(lambda e: False, what="the close", timeout=10)
        assert all(len(json.dumps(event)) < 10_000 for event in socket.events)
        assert socket.connection.close_code == MESSAGE_TOO_BIG
    finally:
        await socket.connection.close()

    again = await EventSocket.open(live_api.ws_url, user.token)
    try:
        await again.wait_for(lambda e: e["type"] == "subscribed", what="a new socket is served")
        await again.send(
            {"action": "join_project", "project_id": "00000000-0000-0000-0000-000000000000", "x": "y" * 1000}
        )
        await again.wait_for(lambda e: e["type"] == "error", what="a message under the bound is read")
    finally:
        await again.connection.close()


async def test_joins_count_against_the_users_request_limit(settings: Settings, tmp_path: Path) -> None:
    """Every `join_project` reads the session in Redis and the project in PostgreSQL; a socket skips the
    HTTP rate limit, so a flood of joins was an unlimited stream of queries. Joins take one request of
    the user's RATE_LIMIT_DEFAULT window each, like an HTTP read."""
    api = start_api(live_env(settings, RATE_LIMIT_DEFAULT="10/minute"), tmp_path)
    try:
        await wait_until_ready(api)
        user = await create_live_user(settings)
        socket = await EventSocket.open(api.ws_url, user.token)
        try:
            await socket.wait_for(lambda e: e["type"] == "subscribed", what="the user's channel")
            answers = [(await socket.join(uuid.uuid4()))["data"] for _ in range(15)]
            limited = [answer for answer in answers if "retry_after" in answer]
            assert len(limited) == 5 and all(answer["retry_after"] >= 1 for answer in limited)
            assert all(answer["message"] == "The project does not exist." for answer in answers[:10])
            await socket.send({"action": "ping"})
            await socket.wait_for(lambda e: e["type"] == "pong", what="pong: the socket still reads")
        finally:
            await socket.close()
    finally:
        api.process.stop()


async def test_a_session_cookie_from_another_origins_page_opens_no_socket(
    live_api: LiveApi, settings: Settings
) -> None:
    """Cross-site WebSocket hijacking: a browser sends the session cookie with a socket that another
    origin's page opens (a sibling subdomain, another port of the same host: same-site, so even a Lax
    cookie goes along), and no CORS rule stops that page reading the events. The cookie counts only
    from the service's own origin (or from a client that sends no Origin); a token is no ambient
    credential, so it counts from any origin."""
    user = await create_live_user(settings)
    cookie = {"Cookie": f"{SESSION_COOKIE}={user.token}"}

    async def first_event(token: str | None, headers: dict[str, str], origin: str | None) -> dict[str, Any]:
        socket = await EventSocket.open(live_api.ws_url, token, additional_headers=headers, origin=origin)
        try:
            return await socket.next_event(timeout=5)
        finally:
            await socket.close()

    with pytest.raises(ConnectionClosed) as closed:
        await first_event(None, cookie, "http://127.0.0.1:3000")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with pytest.raises(ConnectionClosed):
        await first_event(None, cookie, "http://evil.example")
    assert (await first_event(None, cookie, live_api.url))["type"] == "subscribed"
    assert (await first_event(None, cookie, None))["type"] == "subscribed"
    assert (await first_event(user.token, {}, "http://evil.example"))["type"] == "subscribed"
