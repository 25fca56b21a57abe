"""Litestar channels on Redis pub/sub, hardened for many sockets and an unreliable network.

- `SocketOutbox`: each socket's bounded backlog (settings.WEBSOCKET_BACKLOG). When it is full the
  oldest `progress` event is dropped first, then the oldest other non-final event; `job_complete` /
  `job_failed` are never dropped (the backlog may overflow for them, up to twice its size, after
  which the socket is closed as hopeless). Publishing only ever appends here, so a slow or dead
  client never blocks the fan-out or other clients; clients notice drops by gaps in `seq`.
- `SocketSubscriber`: Litestar's Subscriber writing into that outbox.
- `NamespacePubSubBackend`: Litestar's RedisChannelsPubSubBackend that listens with ONE
  `PSUBSCRIBE {namespace}:channel:*` per process and filters locally, instead of a SUBSCRIBE per
  channel. Measured reason: with redis-py 8.1, a SUBSCRIBE issued while the stream is blocked in
  `get_message(timeout=1)` could hold back every message on that connection until the read timed out
  (up to ~1 s late, typically right after sockets joined a project); with no commands on the
  connection after its PSUBSCRIBE this cannot happen, and joining a project costs no Redis round trip.
  The price: every API process receives every event of its namespace (and drops the ones no local
  socket wants) — cheap at our scale.
- `LiveChannelsPlugin`: Litestar's ChannelsPlugin that (a) adds channels to an existing subscriber
  (join/leave a project on the same socket), (b) undoes a subscription whose backend call failed,
  and (c) keeps fanning out after a Redis outage (the stock loop dies with the first error).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from typing import Any

import structlog
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.channels.subscriber import BacklogStrategy, Subscriber
from redis.asyncio import Redis

from app.lib.redis_events import SESSIONS_ENDED_PREFIX, ended_sessions

logger = structlog.get_logger(__name__)

_PROGRESS_PREFIX = b'{"type":"progress"'
_FINAL_PREFIXES = (b'{"type":"job_complete"', b'{"type":"job_failed"')
ERROR_BACKOFF_SECONDS = 1.0
# How long one read of the pub/sub stream waits; it only bounds how often the connection is checked.
PUBSUB_CLOSE_TIMEOUT_SECONDS = 2.0
STREAM_READ_TIMEOUT_SECONDS = 5.0


def is_progress(event: bytes) -> bool:
    return event.startswith(_PROGRESS_PREFIX)


def is_final(event: bytes) -> bool:
    return event.startswith(_FINAL_PREFIXES)


class SocketOutbox:
    """The events waiting to be written to one socket (see the module docstring for what is dropped)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._items: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self.closed = False
        self.overflowed = False
        self.revoked = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, event: bytes) -> bool:
        if self.closed:
            return False
        if len(self._items) >= self.limit and not self._make_room(event):
            self.dropped += 1
            return False
        self._items.append(event)
        self._ready.set()
        return True

    def _make_room(self, incoming: bytes) -> bool:
        for index, queued in enumerate(self._items):
            if is_progress(queued):
                del self._items[index]
                self.dropped += 1
                return True
        if is_progress(incoming):
            return False
        for index, queued in enumerate(self._items):
            if not is_final(queued):
                del self._items[index]
                self.dropped += 1
                return True
        if is_final(incoming) and len(self._items) < 2 * self.limit:
            return True
        self.overflowed = True
        self._ready.set()
        return False

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    def revoke(self) -> None:
        """The socket's session ended: its sender closes the socket without sending what is queued."""
        self.revoked = True
        self._ready.set()

    async def next(self, timeout: float) -> bytes | None:
        """The next event; None when `timeout` passed with nothing to send (or the outbox closed)."""
        if self.revoked:
            return None
        if not self._items and not self.closed and not self.overflowed:
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout):  # cheaper than wait_for: no extra task per event
                    await self._ready.wait()
            except TimeoutError:
                return None
        if self._items and not self.overflowed and not self.revoked:
            return self._items.popleft()
        return None


class SocketSubscriber(Subscriber):
    """A Litestar subscriber whose backlog is a SocketOutbox; the socket's sender drains it.

    A sessions-ended notice on the user's channel (app.lib.redis_events) is never queued: when it
    names this socket's session (or all of the user's), the outbox is revoked at once.
    """

    def __init__(
        self, plugin: ChannelsPlugin, max_backlog: int | None = None, backlog_strategy: BacklogStrategy = "backoff"
    ) -> None:
        super().__init__(plugin, max_backlog=None, backlog_strategy=backlog_strategy)
        self.outbox = SocketOutbox(max_backlog or 500)
        self.session_id: str | None = None

    def put_nowait(self, item: bytes | None) -> bool:
        if item is None:
            self.outbox.close()
            return True
        if item.startswith(SESSIONS_ENDED_PREFIX):
            ended = ended_sessions(item)
            if ended is None or self.session_id in ended:
                self.outbox.revoke()
            return True
        return self.outbox.push(item)

    async def put(self, item: bytes | None) -> None:
        self.put_nowait(item)

    @property
    def qsize(self) -> int:
        return len(self.outbox)

    async def iter_events(self) -> AsyncGenerator[bytes, None]:
        while not self.outbox.closed:
            event = await self.outbox.next(timeout=3600)
            if event is not None:
                yield event


async def _close_pubsub(pubsub: Any) -> None:
    """Close a pub/sub connection without ever hanging shutdown: closing it while a cancelled read
    still holds the connection can wait forever, so the close is bounded."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(PUBSUB_CLOSE_TIMEOUT_SECONDS):
            await pubsub.aclose()


class NamespacePubSubBackend(RedisChannelsPubSubBackend):
    """Pub/sub backend that pattern-subscribes once to the namespace and filters channels locally."""

    def __init__(self, *, redis: Redis, key_prefix: str) -> None:
        super().__init__(redis=redis, key_prefix=key_prefix)
        self._pattern = f"{key_prefix}:channel:*"
        self._wanted: set[str] = set()
        self._stream_pubsub: Any = None

    async def subscribe(self, channels: Iterable[str]) -> None:
        self._wanted.update(channels)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        self._wanted.difference_update(channels)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        pubsub = self._redis.pubsub()
        self._stream_pubsub = pubsub
        try:
            await pubsub.psubscribe(self._pattern)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=STREAM_READ_TIMEOUT_SECONDS)
                if message is None or message["type"] != "pmessage":
                    continue
                channel = message["channel"].decode()
                if channel in self._wanted:
                    yield channel, message["data"]
        finally:
            self._stream_pubsub = None
            await _close_pubsub(pubsub)

    async def on_shutdown(self) -> None:
        if self._stream_pubsub is not None:
            await _close_pubsub(self._stream_pubsub)


class LiveChannelsPlugin(ChannelsPlugin):
    """ChannelsPlugin with per-socket channel sets and a fan-out loop that survives Redis outages."""

    async def _on_shutdown(self) -> None:
        # Litestar awaits the cancelled fan-out task without a limit; a pub/sub read that does not
        # honour the cancel (seen with redis-py under load) would hang shutdown forever.
        sub_task, self._sub_task = self._sub_task, None
        if sub_task is not None:
            sub_task.cancel()
            await asyncio.wait({sub_task}, timeout=PUBSUB_CLOSE_TIMEOUT_SECONDS)
        await super()._on_shutdown()

    async def open_subscriber(self, channels: Iterable[str], session_id: str | None = None) -> SocketSubscriber:
        subscriber = SocketSubscriber(plugin=self, max_backlog=self._max_backlog)
        subscriber.session_id = session_id
        await self.add_channels(subscriber, channels)
        return subscriber

    async def add_channels(self, subscriber: Subscriber, channels: Iterable[str]) -> None:
        """Subscribe an existing subscriber to more channels; on a Redis error nothing is left half-done."""
        added: list[str] = []
        to_subscribe: list[str] = []
        for channel in channels:
            members = self._channels.setdefault(channel, set())
            if subscriber in members:
                continue
            if not members:
                to_subscribe.append(channel)
            members.add(subscriber)
            added.append(channel)
        if not to_subscribe:
            return
        try:
            await self._backend.subscribe(to_subscribe)
        except BaseException:
            for channel in added:
                self._channels.get(channel, set()).discard(subscriber)
            raise

    async def remove_channels(self, subscriber: Subscriber, channels: Iterable[str]) -> None:
        """Unsubscribe from some channels without ending the subscriber (leave a project)."""
        to_unsubscribe = []
        for channel in channels:
            members = self._channels.get(channel)
            if members is None or subscriber not in members:
                continue
            members.discard(subscriber)
            if not members:
                del self._channels[channel]
                to_unsubscribe.append(channel)
        if to_unsubscribe:
            await self._backend.unsubscribe(to_unsubscribe)

    async def close_subscriber(self, subscriber: SocketSubscriber) -> None:
        subscriber.outbox.close()
        channels = [channel for channel, members in self._channels.items() if subscriber in members]
        await self.remove_channels(subscriber, channels)

    async def _sub_worker(self) -> None:
        while True:
            try:
                async for channel, payload in self._backend.stream_events():
                    for subscriber in list(self._channels.get(channel, ())):
                        subscriber.put_nowait(payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: redis-py reconnects and resubscribes on the next read
                logger.warning("live events stream interrupted; resuming", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(ERROR_BACKOFF_SECONDS)
