"""The Redis transport behind app.lib.events: one Lua call numbers an event and publishes it.

Pub/sub is global to a Redis server (not per database), so the pub/sub channel is the contract's
channel name prefixed with settings.REDIS_NAMESPACE; the envelope shows the unprefixed name. The
`seq` counter (INCR, kept 7 days after the last event) and the PUBLISH run in one script, so the
order of `seq` is the order of delivery. Any API process's Litestar channels plugin (see
app.domain.realtime) receives the message and fans it out to its sockets.

The same script keeps the channel's last RECENT_EVENTS_KEPT messages (a sorted set by `seq`, for
RECENT_EVENTS_TTL_SECONDS after the last event), so a client that reconnects (an API process restarted
under it, a network blip) resumes where it left off: it names the last `seq` it saw and is sent the
newer ones (`recent_events`).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from app.lib.events import user_channel

logger = structlog.get_logger(__name__)

SEQ_TTL_SECONDS = 7 * 24 * 3600
PUBLISH_TIMEOUT_SECONDS = 2.0
RECENT_EVENTS_KEPT = 300
RECENT_EVENTS_TTL_SECONDS = 3600

# KEYS = seq counter, recent events; ARGV = envelope without seq, pub/sub channel, counter TTL, kept, kept TTL.
_PUBLISH_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local message = string.sub(ARGV[1], 1, -2) .. ',"seq":' .. seq .. '}'
redis.call('PUBLISH', ARGV[2], message)
redis.call('ZADD', KEYS[2], seq, message)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
redis.call('EXPIRE', KEYS[2], ARGV[5])
return seq
"""


# Internal notice on a user's channel: sessions of that user ended (logout, suspension, role or
# password change). Sockets of those sessions close; it is never forwarded to a client and carries
# no `seq` (clients see no gap).
SESSIONS_ENDED = "sessions_ended"
SESSIONS_ENDED_PREFIX = b'{"type":"sessions_ended"'


class SessionsEnded(msgspec.Struct, kw_only=True, tag="sessions_ended", tag_field="type"):
    """`session_ids`: the ended sessions; None means every session of the user."""

    session_ids: list[str] | None


class EventEnvelope(msgspec.Struct):
    """Field order matters: `type` first lets a socket tell progress events apart without decoding."""

    type: str
    data: Any
    timestamp: datetime.datetime
    channel: str


_encoder = msgspec.json.Encoder()


def pubsub_channel(namespace: str, channel: str) -> str:
    return f"{namespace}:{channel}"


def seq_key(namespace: str, channel: str) -> str:
    return f"{namespace}:events:seq:{channel}"


def recent_events_key(namespace: str, channel: str) -> str:
    return f"{namespace}:events:recent:{channel}"


async def recent_events(redis: Redis, namespace: str, channel: str, after_seq: int) -> list[bytes]:
    """The channel's kept messages with a `seq` above `after_seq`, oldest first (encoded, as published)."""
    messages = await redis.zrangebyscore(recent_events_key(namespace, channel), f"({after_seq}", "+inf")
    return [message if isinstance(message, bytes) else str(message).encode() for message in messages]


def encode_envelope(channel: str, event_type: str, data: Mapping[str, Any]) -> bytes:
    envelope = EventEnvelope(
        type=event_type, data=dict(data), timestamp=datetime.datetime.now(datetime.UTC), channel=channel
    )
    return _encoder.encode(envelope)


async def announce_sessions_ended(redis: Redis, namespace: str, user_id: object, session_ids: list[str] | None) -> None:
    """Tell every API process that sessions of `user_id` ended, so their open sockets close at once.

    Never raises: sockets also re-check their session before joining a project and at every idle ping.
    """
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            await redis.publish(
                pubsub_channel(namespace, user_channel(str(user_id))),
                _encoder.encode(SessionsEnded(session_ids=session_ids)),
            )
    except Exception as exc:
        logger.warning(
            "sessions-ended notice not published", user_id=str(user_id), error=f"{type(exc).__name__}: {exc}"
        )


def ended_sessions(message: bytes) -> list[str] | None:
    """The session ids of a sessions-ended notice (None: all of the user's)."""
    return msgspec.json.decode(message, type=SessionsEnded).session_ids


class RedisEventPublisher:
    """EventPublisher over Redis pub/sub; usable from API processes and workers alike. Never raises."""

    def __init__(self, redis: Redis, namespace: str, *, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        self._redis = redis
        self._namespace = namespace
        self._timeout = timeout
        self._script = redis.register_script(_PUBLISH_SCRIPT)
        self._last_failure_log = 0.0
        self.failures = 0

    def _keys_and_args(self, channel: str, event_type: str, data: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
        message = encode_envelope(channel, event_type, data)
        keys = [seq_key(self._namespace, channel), recent_events_key(self._namespace, channel)]
        args = [
            message,
            pubsub_channel(self._namespace, channel),
            SEQ_TTL_SECONDS,
            RECENT_EVENTS_KEPT,
            RECENT_EVENTS_TTL_SECONDS,
        ]
        return keys, args

    async def publish(self, channel: str, event_type: str, data: Mapping[str, Any]) -> None:
        try:
            keys, args = self._keys_and_args(channel, event_type, data)
            async with asyncio.timeout(self._timeout):
                await self._script(keys=keys, args=args)
        except Exception as exc:  # a failed publish must never fail the caller (see app.lib.events)
            self._failed(channel, event_type, exc)

    async def publish_many(self, events: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Publish `events` (channel, type, data) in this order in one round trip (the script's EVALSHAs
        in one MULTI; on NOSCRIPT, one by one, which loads it). Never raises.

        MULTI, not a plain pipeline: Redis may run another client's commands between a pipeline's, so
        after a restart (or SCRIPT FLUSH) another process could load the script midway; the first
        events then got NOSCRIPT, the later ones ran, and the fallback sent the first ones after them,
        out of commit order. In one MULTI either every EVALSHA finds the script or none does."""
        if len(events) < 2:
            for channel, event_type, data in events:
                await self.publish(channel, event_type, data)
            return
        try:
            calls = [self._keys_and_args(*event) for event in events]
            async with asyncio.timeout(self._timeout):
                async with self._redis.pipeline(transaction=True) as pipe:
                    for keys, args in calls:
                        pipe.execute_command("EVALSHA", self._script.sha, len(keys), *keys, *args)
                    replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for channel, event_type, _ in events:
                self._failed(channel, event_type, exc)
            return
        for (channel, event_type, data), reply in zip(events, replies, strict=True):
            if isinstance(reply, NoScriptError):  # a restarted Redis: nothing of this one ran
                await self.publish(channel, event_type, data)
            elif isinstance(reply, Exception):
                self._failed(channel, event_type, reply)

    def _failed(self, channel: str, event_type: str, exc: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self._last_failure_log > 5.0:
            self._last_failure_log = now
            logger.warning(
                "event publish failed",
                channel=channel,
                event_type=event_type,
                error=f"{type(exc).__name__}: {exc}",
                failures=self.failures,
            )
