"""Writes of the REST API tell live clients: position edits, new versions, uploads and chat messages
are published on the project's channel after the commit."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.support.api import ApiUser, add_position, csv_bytes
from tests.support.channel_events import project_events


async def test_writes_publish_events_on_the_project_channel(
    client: AsyncTestClient[Litestar], settings: Settings, api_user: ApiUser, project: dict[str, Any]
) -> None:
    wanted = {"position_updated", "budget_recalculated", "document_uploaded", "chat_message"}
    async with project_events(settings, project["id"]) as events:
        added = await add_position(client, api_user, project["id"])
        await client.post(
            f"/api/projects/{project['id']}/documents", files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers
        )
        await client.post(f"/api/projects/{project['id']}/chat", json={"message": "Ahoj"}, headers=api_user.headers)
        received = await events.until(lambda got: wanted <= {event["type"] for event in got})
    by_type = {event["type"]: event["data"] for event in received}
    assert set(by_type) >= wanted, received
    assert by_type["position_updated"]["lineage_id"] == added["position"]["lineage_id"]
    assert by_type["budget_recalculated"]["version"] == 1
    assert by_type["budget_recalculated"]["total_cost"] == added["version"]["total_cost"]
    assert by_type["document_uploaded"]["filename"] == "a.csv"
    assert any(e["type"] == "chat_message" and e["data"]["message"] == "Ahoj" for e in received)
