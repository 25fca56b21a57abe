"""`/ws`: one authenticated socket per browser tab, fed by the Redis-backed channels of every process.

Protocol (see /work/shared/API.md): authenticate with `?token=` (or the session cookie / Bearer
header); a socket without a valid session is accepted and closed at once with 1008. The cookie counts
only on a socket opened from the service's own origin (`cookie_counts`). The socket is
subscribed to `channel:user:{id}` straight away and told so by a `subscribed` event. Client messages:
`{"action": "join_project", "project_id"}` (owner or admin only, else an `error` event and nothing
subscribed), `{"action": "leave_project", "project_id"}`, `{"action": "ping"}` → `pong`. A message
longer than MAX_CLIENT_MESSAGE_CHARACTERS closes the socket with 1009 (message too big). A join counts
against the user's RATE_LIMIT_DEFAULT window (an `error` event with `retry_after` past it).

Revocation: logout, suspension, a role change or a password change publishes a sessions-ended notice
on the user's channel; every API process closes the sockets of the ended sessions at once (1008).
The session is also checked again before a `join_project` and at every idle ping.

Resuming: a client that reconnects passes the last `seq` it saw, `?after_seq=N` for its user channel
and `"after_seq": N` in `join_project`; right after `subscribed` it is sent the channel's newer kept
events (app.lib.redis_events keeps the last few hundred). An event can then arrive twice (published
while the socket subscribed): a client skips a `seq` it already has.

Liveness: the server sends a `ping` event after WEBSOCKET_PING_INTERVAL seconds without traffic, and
gives every write WEBSOCKET_PING_TIMEOUT seconds; a client that cannot take a write in that time is
closed (1013, try again later), so a dead peer is found without a browser having to answer pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import uuid
from typing import Any

import msgspec
import structlog
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from redis.asyncio import Redis
from sqlalchemy import select

from app.config import Settings
from app.db.models import Project
from app.domain.accounts.middleware import token_from_scope
from app.domain.accounts.sessions import SessionUser, resolve_session, resolve_session_id
from app.domain.realtime.channels import LiveChannelsPlugin, SocketSubscriber
from app.lib.db import alchemy_config
from app.lib.events import project_channel, user_channel
from app.lib.metrics import WEBSOCKET_CONNECTIONS
from app.lib.rate_limit import limits_from_settings, rate_limit_key, take_one
from app.lib.redis_events import pubsub_channel, recent_events

logger = structlog.get_logger(__name__)

WS_POLICY_VIOLATION = 1008
WS_MESSAGE_TOO_BIG = 1009
WS_INTERNAL_ERROR = 1011
# A client message is an action, a project id and a seq: well under 200 characters. The server
# (granian) takes frames of many megabytes, and a bigger message was decoded and its text echoed in
# the error event, which the outbox kept for a client that reads nothing.
MAX_CLIENT_MESSAGE_CHARACTERS = 4096
WS_TRY_AGAIN_LATER = 1013


class ClientMessage(msgspec.Struct, kw_only=True):
    action: str
    project_id: uuid.UUID | None = None
    after_seq: int | None = None


class DirectEvent(msgspec.Struct):
    """An event for this socket only (pong, error, subscribed, ping): no channel, no seq."""

    type: str
    data: dict[str, Any]
    timestamp: datetime.datetime


_decode_client_message = msgspec.json.Decoder(ClientMessage).decode
_encoder = msgspec.json.Encoder()


def direct_event(event_type: str, data: dict[str, Any]) -> bytes:
    return _encoder.encode(DirectEvent(type=event_type, data=data, timestamp=datetime.datetime.now(datetime.UTC)))


def resume_point(raw: str | None) -> int | None:
    """`?after_seq=N` of a resuming client (ignored unless a plain non-negative number)."""
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 19 else None


def socket_token(socket: WebSocket[Any, Any, Any]) -> str | None:
    """`?token=`, else a Bearer header or the session cookie (`cookie_counts`: only from the service's
    own origin, so that another same-site page cannot open a socket with the user's cookie and read it)."""
    return socket.query_params.get("token") or token_from_scope(socket.scope)


@websocket("/ws", opt={"exclude_from_auth": True, "skip_rate_limit": True}, name="live_events")
async def live_events(socket: WebSocket[Any, Any, Any], channels: NamedDependency[LiveChannelsPlugin]) -> None:
    """Live events of the signed-in user and of the projects the socket joined."""
    settings: Settings = socket.app.state.settings
    redis: Redis = socket.app.state.redis
    token = socket_token(socket)
    user: SessionUser | None = None
    unavailable = False
    if token:
        try:
            user = await resolve_session(redis, token)
        except Exception as exc:  # session store down: fail closed, but say it is temporary
            logger.warning("websocket session check failed", error=str(exc))
            unavailable = True
    await socket.accept()
    if user is None:
        if unavailable:
            await socket.close(code=WS_TRY_AGAIN_LATER, reason="session store unavailable")
        else:
            await socket.close(code=WS_POLICY_VIOLATION, reason="a valid session token is required")
        return
    await LiveSocket(socket, channels, settings, user).serve()


class LiveSocket:
    """One open socket: its subscriptions, its outbox, a sender task and a receiver loop."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], channels: LiveChannelsPlugin, settings: Settings, user: SessionUser
    ) -> None:
        self.socket = socket
        self.channels = channels
        self.settings = settings
        self.user = user
        self.namespace = settings.REDIS_NAMESPACE
        self.projects: set[uuid.UUID] = set()
        self.subscriber: SocketSubscriber | None = None
        self.close_with: tuple[int, str] | None = None  # set by the sender or the receiver: close code and reason
        self.log = logger.bind(user_id=str(user.id))

    def _pubsub(self, channel: str) -> str:
        return pubsub_channel(self.namespace, channel)

    async def serve(self) -> None:
        own_channel = user_channel(self.user.id)
        try:
            self.subscriber = await self.channels.open_subscriber([self._pubsub(own_channel)], self.user.session_id)
        except Exception as exc:
            self.log.warning("websocket subscribe failed", error=str(exc))
            await self.socket.close(code=WS_TRY_AGAIN_LATER, reason="live events unavailable")
            return
        WEBSOCKET_CONNECTIONS.inc()
        self.send_direct("subscribed", {"channel": own_channel})
        await self._replay(own_channel, resume_point(self.socket.query_params.get("after_seq")))
        sender = asyncio.create_task(self._send_loop(self.subscriber))
        receiver = asyncio.create_task(self._receive_loop())
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
            # Closed only now: with a receive still pending, granian's close waits for the peer's
            # close frame, which that pending receive would swallow.
            if self.close_with is not None:
                await self._close(*self.close_with)
            WEBSOCKET_CONNECTIONS.dec()
            with contextlib.suppress(Exception):
                await self.channels.close_subscriber(self.subscriber)
            if self.subscriber.outbox.dropped:
                self.log.info("websocket closed after dropping events", dropped=self.subscriber.outbox.dropped)

    def send_direct(self, event_type: str, data: dict[str, Any]) -> None:
        if self.subscriber is not None:
            self.subscriber.outbox.push(direct_event(event_type, data))

    async def _send_loop(self, subscriber: SocketSubscriber) -> None:
        outbox = subscriber.outbox
        idle_ping = self.settings.WEBSOCKET_PING_INTERVAL
        write_timeout = self.settings.WEBSOCKET_PING_TIMEOUT
        while True:
            event = await outbox.next(timeout=idle_ping)
            if outbox.revoked:
                self.close_with = (WS_POLICY_VIOLATION, "the session has ended")
                return
            if outbox.overflowed:
                self.close_with = (WS_TRY_AGAIN_LATER, "too far behind; reconnect and reload")
                return
            if outbox.closed and event is None:
                return
            if event is None:
                if not await self._session_alive():  # a missed sessions-ended notice, or expiry
                    self.close_with = (WS_POLICY_VIOLATION, "the session has ended")
                    return
                event = direct_event("ping", {})
            try:
                async with asyncio.timeout(write_timeout):
                    await self.socket.send({"type": "websocket.send", "text": event.decode("utf-8"), "bytes": None})
            except TimeoutError:
                self.log.info("websocket client too slow; closing")
                self.close_with = (WS_TRY_AGAIN_LATER, "client too slow")
                return
            except (WebSocketDisconnect, OSError, RuntimeError):
                return

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.socket.close(code=code, reason=reason)

    async def _receive_loop(self) -> None:
        while True:
            try:
                text = await self.socket.receive_data("text")
            except (WebSocketDisconnect, RuntimeError):
                return
            if len(text) > MAX_CLIENT_MESSAGE_CHARACTERS:
                self.log.info("websocket message too large; closing", characters=len(text))
                self.close_with = (
                    WS_MESSAGE_TOO_BIG,
                    f"a message holds at most {MAX_CLIENT_MESSAGE_CHARACTERS} characters",
                )
                return
            try:
                message = _decode_client_message(text)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self.send_direct("error", {"message": f"invalid message: {exc}"})
                continue
            except RecursionError:  # a deeply nested message must not end the receive loop
                self.send_direct("error", {"message": "invalid message: nested too deeply"})
                continue
            await self._handle(message)

    async def _handle(self, message: ClientMessage) -> None:
        if message.action == "ping":
            self.send_direct("pong", {})
        elif message.action == "join_project":
            await self._join(message.project_id, message.after_seq)
        elif message.action == "leave_project":
            await self._leave(message.project_id)
        else:
            self.send_direct("error", {"message": f"unknown action {message.action!r}", "action": message.action})

    async def _session_alive(self) -> bool:
        """The socket's session still exists and its user may still act (not suspended); role and
        status may have changed, so the socket's user is refreshed."""
        try:
            user = await resolve_session_id(self.socket.app.state.redis, self.user.session_id)
        except Exception as exc:  # Redis away: keep the socket; the next check decides
            self.log.warning("websocket session check failed", error=str(exc))
            return True
        if user is None:
            return False
        self.user = user
        return True

    async def _replay(self, channel: str, after_seq: int | None) -> None:
        """Send the channel's kept events newer than `after_seq` (a resuming client); best effort."""
        if after_seq is None or self.subscriber is None:
            return
        try:
            missed = await recent_events(self.socket.app.state.redis, self.namespace, channel, after_seq)
        except Exception as exc:  # the client sees the gap in `seq` and reloads by REST
            self.log.warning("websocket resume failed", channel=channel, error=str(exc))
            return
        for event in missed:
            self.subscriber.outbox.push(event)

    async def _join_refused_by_limit(self, project_id: uuid.UUID | None) -> bool:
        """A join takes one request of the user's default window (it queries Redis and PostgreSQL like
        an HTTP read, and the socket skips the request gate's limit); refused with an `error` event
        carrying `retry_after`, or when Redis cannot count (fail closed, as HTTP does)."""
        answer: dict[str, Any] = {"action": "join_project", "project_id": str(project_id) if project_id else None}
        limit = limits_from_settings(self.settings)["default"]
        try:
            retry_after = await take_one(
                self.socket.app.state.redis, rate_limit_key(str(self.user.id), "default"), limit
            )
        except Exception as exc:
            self.log.warning("websocket rate limit unavailable", error=str(exc))
            self.send_direct("error", {**answer, "message": "live events unavailable; try again"})
            return True
        if retry_after:
            message = f"Too many requests: {limit.requests} per {limit.window_seconds} s. Retry in {retry_after} s."
            self.send_direct("error", {**answer, "message": message, "retry_after": retry_after})
            return True
        return False

    async def _join(self, project_id: uuid.UUID | None, after_seq: int | None = None) -> None:
        if await self._join_refused_by_limit(project_id):
            return
        if not await self._session_alive():
            assert self.subscriber is not None
            self.subscriber.outbox.revoke()
            return
        if project_id is None:
            self.send_direct("error", {"message": "project_id is required", "action": "join_project"})
            return
        if not await self._may_see(project_id):
            self.send_direct(
                "error",
                {"message": "The project does not exist.", "action": "join_project", "project_id": str(project_id)},
            )
            return
        channel = project_channel(project_id)
        assert self.subscriber is not None
        try:
            await self.channels.add_channels(self.subscriber, [self._pubsub(channel)])
        except Exception as exc:
            self.log.warning("project subscribe failed", error=str(exc))
            self.send_direct("error", {"message": "live events unavailable; try again", "project_id": str(project_id)})
            return
        self.projects.add(project_id)
        self.send_direct("subscribed", {"channel": channel, "project_id": str(project_id)})
        await self._replay(channel, after_seq)

    async def _leave(self, project_id: uuid.UUID | None) -> None:
        if project_id is None or project_id not in self.projects:
            self.send_direct("error", {"message": "not joined", "action": "leave_project"})
            return
        channel = project_channel(project_id)
        assert self.subscriber is not None
        with contextlib.suppress(Exception):
            await self.channels.remove_channels(self.subscriber, [self._pubsub(channel)])
        self.projects.discard(project_id)
        self.send_direct("unsubscribed", {"channel": channel, "project_id": str(project_id)})

    async def _may_see(self, project_id: uuid.UUID) -> bool:
        """Owners and administrators may join a project's channel (checked in PostgreSQL, not cached)."""
        try:
            async with alchemy_config().get_engine().connect() as conn:
                owner_id = await conn.scalar(select(Project.owner_id).where(Project.id == project_id))
        except Exception as exc:
            self.log.warning("project check failed", error=str(exc))
            return False
        return owner_id is not None and (self.user.is_admin or owner_id == self.user.id)
