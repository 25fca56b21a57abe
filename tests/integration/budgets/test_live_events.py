"""Writes of the REST API tell live clients: position edits, new versions, uploads and chat messages
are published on the project's channel after the commit."""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.lib.events import project_channel
from app.lib.redis_events import pubsub_channel
from tests.support.api import ApiUser, add_position, csv_bytes


async def test_writes_publish_events_on_the_project_channel(
    client: AsyncTestClient[Litestar], settings: Settings, api_user: ApiUser, project: dict[str, Any]
) -> None:
    redis = aioredis.Redis.from_url(settings.redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(pubsub_channel(settings.REDIS_NAMESPACE, project_channel(project["id"])))
    try:
        added = await add_position(client, api_user, project["id"])
        await client.post(
            f"/api/projects/{project['id']}/documents", files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers
        )
        await client.post(f"/api/projects/{project['id']}/chat", json={"message": "Ahoj"}, headers=api_user.headers)
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        wanted = {"position_updated", "budget_recalculated", "document_uploaded", "chat_message"}
        while time.monotonic() < deadline and not wanted <= {event["type"] for event in received}:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                received.append(json.loads(message["data"]))
    finally:
        await pubsub.aclose()
        await redis.aclose()
    by_type = {event["type"]: event["data"] for event in received}
    assert set(by_type) >= wanted, received
    assert by_type["position_updated"]["lineage_id"] == added["position"]["lineage_id"]
    assert by_type["budget_recalculated"]["version"] == 1
    assert by_type["budget_recalculated"]["total_cost"] == added["version"]["total_cost"]
    assert by_type["document_uploaded"]["filename"] == "a.csv"
    assert by_type["chat_message"]["message"] == "Ahoj"
