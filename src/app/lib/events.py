"""Live events: the one way any process (API or worker) tells WebSocket clients that something happened.

Contract used by every domain (the transport behind it belongs to the realtime domain):
    await events.publish(project_channel(project_id), "position_updated", {...})
Envelope on the wire: {"type", "data", "timestamp", "channel", "seq"}; `seq` grows per channel so a
client can tell it missed something and reload by REST. Publishing never raises: a failed publish is
logged and later publishes still work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

EVENT_TYPES = (
    "progress",
    "job_complete",
    "job_failed",
    "position_updated",
    "document_uploaded",
    "budget_recalculated",
    "chat_message",
    "notification",
    "error",
    "pong",
)


def user_channel(user_id: uuid.UUID | str) -> str:
    return f"channel:user:{user_id}"


def project_channel(project_id: uuid.UUID | str) -> str:
    return f"channel:project:{project_id}"


class EventPublisher(Protocol):
    async def publish(self, channel: str, event_type: str, data: Mapping[str, Any]) -> None: ...
