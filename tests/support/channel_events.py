"""Listening to a project's live channel on Redis, as an API process's fan-out would."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from app.config import Settings
from app.lib.events import project_channel
from app.lib.redis_events import pubsub_channel

Event = dict[str, Any]


class ChannelEvents:
    """Events received so far; `until` polls with a deadline (never a bare sleep)."""

    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub
        self.received: list[Event] = []

    async def until(self, done: Callable[[list[Event]], bool], timeout: float = 10.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(self.received):
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                self.received.append(json.loads(message["data"]))
        return self.received


@asynccontextmanager
async def project_events(settings: Settings, project_id: object) -> AsyncIterator[ChannelEvents]:
    """Subscribed to the project's channel for the body of the `async with`."""
    redis = aioredis.Redis.from_url(settings.redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(pubsub_channel(settings.REDIS_NAMESPACE, project_channel(str(project_id))))
    try:
        yield ChannelEvents(pubsub)
    finally:
        await pubsub.aclose()
        await redis.aclose()
