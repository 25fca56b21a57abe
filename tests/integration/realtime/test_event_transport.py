"""The publisher survives Redis going away, and so does an API process's fan-out to its sockets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis

from app.config import Settings
from app.lib import embedded
from app.lib.events import user_channel
from app.lib.redis_events import RedisEventPublisher
from tests.support.live import create_live_user, live_env, start_api, wait_until_ready
from tests.support.servers import free_port
from tests.support.sockets import EventSocket


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> tuple[Path, int]:
    port = free_port()
    embedded.start_redis(tmp_path, port, persist=False)
    yield tmp_path, port
    embedded.stop_redis(tmp_path)


async def test_publishing_never_raises_and_recovers_after_a_redis_restart(
    live_settings: Settings, throwaway_redis: tuple[Path, int], tmp_path: Path
) -> None:
    redis_dir, port = throwaway_redis
    settings = msgspec.structs.replace(live_settings, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    owner = await create_live_user(settings)  # its session lives in the throwaway Redis
    api = start_api(live_env(settings), tmp_path / "logs", name="api-throwaway-redis")
    publisher_redis = Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
    events = RedisEventPublisher(publisher_redis, settings.REDIS_NAMESPACE, timeout=1.0)
    channel = user_channel(owner.id)
    try:
        await wait_until_ready(api)
        socket = await EventSocket.open(api.ws_url, owner.token)
        await socket.subscribed(channel)
        await events.publish(channel, "notification", {"n": 1})
        assert (await socket.wait_for(lambda e: e["type"] == "notification"))["data"] == {"n": 1}

        embedded.stop_redis(redis_dir)
        started = time.monotonic()
        await events.publish(channel, "notification", {"n": 2})  # logged, not raised
        assert time.monotonic() - started < 3 and events.failures == 1

        embedded.start_redis(redis_dir, port, persist=False)
        deadline = time.monotonic() + 20
        received = None
        n = 3
        while received is None and time.monotonic() < deadline:
            await events.publish(channel, "notification", {"n": n})  # until the API's subscription is back
            try:
                received = await socket.wait_for(lambda e: e["type"] == "notification", timeout=0.5)
            except AssertionError:
                n += 1
        assert received is not None, api.process.log_tail()
        assert received["data"]["n"] >= 3 and received["seq"] >= 1
        await socket.close()
    finally:
        await publisher_redis.aclose()
        api.process.stop()
        await asyncio.sleep(0)
