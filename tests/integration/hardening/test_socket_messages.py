"""A hostile WebSocket message gets an `error` event and leaves the socket working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.config import Settings
from tests.support.live import LiveApi, create_live_user, live_env, start_api, wait_until_ready
from tests.support.sockets import EventSocket

pytestmark = pytest.mark.slow


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
        deep = '{"action": "ping", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
        await socket.connection.send(deep)
        error = await socket.wait_for(lambda e: e["type"] == "error", what="an error event")
        assert "nested too deeply" in error["data"]["message"]
        await socket.send({"action": "ping"})
        await socket.wait_for(lambda e: e["type"] == "pong", what="pong: the socket still reads")
    finally:
        await socket.connection.close()
