"""A transaction's live events reach clients in commit order also right after Redis lost its scripts
(a restart; SCRIPT FLUSH here), when the first EVALSHA of the publish script answers NOSCRIPT.

These tests run on a Redis server of their own: SCRIPT FLUSH is global to a server, and other test
runs' scripts must not vanish under them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.config import Settings
from app.lib import embedded
from app.lib.events import project_channel
from app.lib.redis_events import _PUBLISH_SCRIPT, RedisEventPublisher, pubsub_channel
from tests.support.api import (
    add_position,
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    signed_in_user,
)
from tests.support.servers import free_port

ROUNDS = 10
EVENTS = 40
PADDING = "x" * 2000  # 40 events of ~2 kB: Redis reads the round trip in several parts


@pytest.fixture
def own_redis_url(tmp_path: Path) -> Iterator[str]:
    base = tmp_path / "redis"
    port = free_port()
    embedded.start_redis(base, port, persist=False)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        embedded.stop_redis(base)


@pytest.fixture
async def own_redis(own_redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(own_redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


async def _messages(pubsub: Any, count: int, seconds: float = 10.0) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while len(received) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(received)} of {count} events arrived"
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None:
            received.append(json.loads(message["data"]))
    return received


async def test_events_keep_their_order_when_another_process_loads_the_script_meanwhile(
    own_redis_url: str, own_redis: Redis
) -> None:
    """After SCRIPT FLUSH, another process (here: a client loading the script in a loop) may load the
    script while this one's events are on their way: none of them may overtake another."""
    publishing, loading = Redis.from_url(own_redis_url), Redis.from_url(own_redis_url)
    publisher = RedisEventPublisher(publishing, "t")
    pubsub = own_redis.pubsub()
    await pubsub.subscribe(pubsub_channel("t", "project:order"))
    try:
        for round_number in range(ROUNDS):
            await own_redis.script_flush()
            stop = asyncio.Event()

            async def load_until_stopped(stop: asyncio.Event = stop) -> None:
                while not stop.is_set():
                    await loading.script_load(_PUBLISH_SCRIPT)

            loader = asyncio.create_task(load_until_stopped())
            events = [("project:order", "position_updated", {"index": i, "padding": PADDING}) for i in range(EVENTS)]
            await publisher.publish_many(events)
            stop.set()
            await loader
            received = await _messages(pubsub, EVENTS)
            indexes = [event["data"]["index"] for event in received]
            assert indexes == list(range(EVENTS)), f"round {round_number}: out of commit order"
            seqs = [event["seq"] for event in received]
            assert seqs == sorted(seqs)
        assert publisher.failures == 0
    finally:
        await pubsub.aclose()
        await publishing.aclose()
        await loading.aclose()


async def test_an_edit_after_script_flush_announces_its_events_in_commit_order(
    settings: Settings, tmp_path: Path, own_redis_url: str, own_redis: Redis
) -> None:
    """An edit records `budget_recalculated`, then `position_updated`: after SCRIPT FLUSH they still
    arrive, in that order, numbered one after the other."""
    app = build_test_app(api_settings(settings, str(tmp_path / "storage"), REDIS_URL=own_redis_url))
    async with concurrent_client(app) as http:
        user = await signed_in_user(http)
        project = await create_project(http, user)
        pubsub = own_redis.pubsub()
        await pubsub.subscribe(pubsub_channel(settings.REDIS_NAMESPACE, project_channel(project["id"])))
        try:
            await own_redis.script_flush()
            await add_position(http, user, project["id"])
            received = await _messages(pubsub, 2)
        finally:
            await pubsub.aclose()
    assert [event["type"] for event in received] == ["budget_recalculated", "position_updated"]
    assert received[1]["seq"] == received[0]["seq"] + 1
