"""A small WebSocket test client for /ws: collects events and waits for the one a test expects."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect

Event = dict[str, Any]


class EventSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[Event] = []

    @classmethod
    async def open(cls, ws_url: str, token: str | None, *, after_seq: int | None = None, **options: Any) -> EventSocket:
        query = {"token": token} if token else {}
        if after_seq is not None:
            query["after_seq"] = str(after_seq)
        url = f"{ws_url}?{urlencode(query)}" if query else ws_url
        connection = await connect(url, open_timeout=10, ping_interval=None, compression=None, **options)
        return cls(connection)

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def next_event(self, timeout: float = 10.0) -> Event:
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        event: Event = json.loads(raw)
        self.events.append(event)
        return event

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 15.0, what: str = "") -> Event:
        """Read until an event matches (events read on the way are kept in `self.events`)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no event {what} within {timeout} s; got {[e['type'] for e in self.events]}")
            try:
                event = await self.next_event(remaining)
            except TimeoutError:
                continue
            if predicate(event):
                return event

    async def subscribed(self, channel: str, timeout: float = 10.0) -> Event:
        return await self.wait_for(
            lambda e: e["type"] == "subscribed" and e["data"]["channel"] == channel, timeout, f"subscribed {channel}"
        )

    async def join(self, project_id: object) -> Event:
        await self.send({"action": "join_project", "project_id": str(project_id)})
        return await self.wait_for(
            lambda e: e["type"] in ("subscribed", "error") and e["data"].get("project_id") == str(project_id),
            what=f"answer to join {project_id}",
        )

    async def barrier(self) -> list[Event]:
        """Ping and wait for the pong: returns the events that arrived before it."""
        start = len(self.events)
        await self.send({"action": "ping"})
        await self.wait_for(lambda e: e["type"] == "pong", what="pong")
        return self.events[start:-1]

    async def close(self) -> None:
        await self.connection.close()
