"""Live events: the one way any process (API or worker) tells WebSocket clients that something happened.

Contract used by every domain (the transport behind it belongs to the realtime domain):
    await events.publish(project_channel(project_id), "position_updated", {...})
Envelope on the wire: {"type", "data", "timestamp", "channel", "seq"}; `seq` grows per channel so a
client can tell it missed something and reload by REST. Publishing never raises: a failed publish is
logged and later publishes still work.

Where to get a publisher:
- in a Litestar handler: declare a parameter `events: EventPublisher` (app-wide dependency);
- in a job handler: `ctx.events` (see app.domain.jobs.context);
- anywhere else: `RedisEventPublisher(redis, settings.REDIS_NAMESPACE)` from app.lib.redis_events.
An event about data that a transaction writes is recorded with it instead, and goes out only once
the data is committed: `record(session, LiveEvent(channel, type, data))` (both in app.lib.unit_of_work).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

EVENT_TYPES = (
    "progress",
    "job_complete",
    "job_failed",
    "position_updated",
    "document_uploaded",
    "budget_recalculated",
    "chat_message",
    "finding_resolved",
    "finding_reopened",
    "notification",
    "error",
    "pong",
    # Socket-level extensions (sent to one socket, never published): the subscription a client asked
    # for is live (so it knows when it cannot miss events any more), and the server's keep-alive.
    "subscribed",
    "unsubscribed",
    "ping",
)

# Events that end something a client waits for: a slow socket drops progress first, never these.
FINAL_EVENT_TYPES = frozenset({"job_complete", "job_failed"})


def user_channel(user_id: uuid.UUID | str) -> str:
    return f"channel:user:{user_id}"


def project_channel(project_id: uuid.UUID | str) -> str:
    return f"channel:project:{project_id}"


def job_channels(project_id: uuid.UUID | str | None, user_id: uuid.UUID | str | None) -> list[str]:
    """Where a job's events go: its project's channel and its owner's own channel."""
    channels = []
    if project_id is not None:
        channels.append(project_channel(project_id))
    if user_id is not None:
        channels.append(user_channel(user_id))
    return channels


@runtime_checkable
class EventPublisher(Protocol):
    async def publish(self, channel: str, event_type: str, data: Mapping[str, Any]) -> None: ...


async def publish_to(
    publisher: EventPublisher, channels: Iterable[str], event_type: str, data: Mapping[str, Any]
) -> None:
    """Publish one event to several channels (each channel numbers it with its own `seq`)."""
    for channel in channels:
        await publisher.publish(channel, event_type, data)
