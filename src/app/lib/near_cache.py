"""The near-cache: sessions and cached entries kept in each API process, dropped by every writer at once.

An authenticated request whose session (and rate-limit token) the process holds is authenticated
with no Redis call, and a cached read (`GET /api/projects/{id}`, `GET /api/me`) is answered from the
process (app.domain.accounts.middleware). What makes that safe:

1. **Every writer announces what it changed.** A session change (logout, suspension, a role or
   status change, a password change: app.domain.accounts.sessions publishes every session key it
   ends or rewrites) or a cache invalidation (app.lib.cache) publishes the Redis keys it changed on
   one channel per namespace, `{REDIS_NAMESPACE}:near-cache`, in the same MULTI as the change
   itself (both happen or neither), and in that MULTI reads the current members: the processes that
   may serve from a near-cache (below). Each process's subscriber drops the keys and acknowledges
   with its member id (RPUSH to the notice's own list); the writer waits (BLPOP, at most
   `ACK_DEADLINE_SECONDS`) until every member has, and only then does the write's response go out,
   so the very next request anywhere sees it. Writers without an API process (SAQ workers) publish
   the same way (any client of `create_redis`).
2. **A process serves from its near-cache only while it is surely reached by notices and counted.**
   Its subscriber task keeps the SUBSCRIBE connection and PINGs on it every
   `PING_INTERVAL_SECONDS`, carrying the time the ping was sent; a pong makes the near-cache usable
   until that time + `LIVENESS_SECONDS`. Redis answers in order on the connection, so a pong for a
   ping sent after a notice was published arrives after the notice itself: a process that missed a
   notice (connection lost, Redis restarted, a stalled loop) stops serving from its near-cache at most
   `LIVENESS_SECONDS` after the publish — the writer's deadline is that long, so even a writer that
   got no ack from a member answers only once that member has stopped using what it held. Members
   are kept in `{namespace}:near-cache:members` (scores: expiry by Redis's clock, refreshed every
   `REGISTER_EVERY_SECONDS`), and a near-cache is usable only while its membership surely lasts, so
   a process that serves is always among the members a writer waits for. (Counting PUBLISH's
   receivers instead would make every writer wait for a leaked, unread subscription connection.)
   On every (re)subscribe the near-cache is cleared before it is used again; while it is not live,
   requests take the one-Lua-call path (and 503 when Redis is down, as before).
3. **A fill never stores a stale value.** A reader notes `mark()` (the process's invalidation
   sequence) before its Redis read and stores only if no notice was handled since
   (`put(..., mark)`): a notice handled in between may concern what it read.
4. **Bounded.** At most `MAX_ITEMS` keys (cleared when full) and every item expires after
   NEAR_CACHE_TTL_SECONDS (a session also at its own expiry), a safety net behind the notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterable
from random import random
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import msgspec
import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from app.config import Settings
from app.lib.redis import namespace_of, run_script

logger = structlog.get_logger(__name__)

# app.state key of the process's NearCache (None or absent: off).
NEAR_CACHE_STATE = "near_cache"
PING_INTERVAL_SECONDS = 0.1
LIVENESS_SECONDS = 0.5
# A writer waits for the acks at most this long: by then a process that did not ack has stopped
# serving from its near-cache (see 2. above), so the write is seen by the next request either way.
ACK_DEADLINE_SECONDS = LIVENESS_SECONDS
ACK_TTL_SECONDS = 10
MEMBER_TTL_SECONDS = 2.0
REGISTER_EVERY_SECONDS = 0.5
MAX_ITEMS = 50_000
RECONNECT_SECONDS = 0.5
STOP_SECONDS = 3.0


class _Notice(msgspec.Struct, array_like=True):
    ack_key: str
    keys: list[str]
    # The member id of the writer's own process when that writer dropped the keys from its near-cache
    # itself (it does not wait for its own subscriber, which then need not ack).
    origin: str = ""


# KEYS: members. ARGV: member, ttl ms ('0': leave). Scores are expiries by Redis's clock.
_REGISTER_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] == '0' then return redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], 86400)
return 1
"""
# KEYS: members. The ids of the processes whose membership has not expired.
_MEMBERS_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# Each Redis client's own process near-cache (its app's), for writers holding only the client.
_own: WeakKeyDictionary[Redis, NearCache] = WeakKeyDictionary()
_encode = msgspec.json.Encoder().encode
_decode_notice = msgspec.json.Decoder(_Notice).decode


def channel_name(namespace: str) -> str:
    """Not under `{namespace}:channel:*`, the live events' pattern (app.domain.realtime.channels)."""
    return f"{namespace}:near-cache"


def members_key(namespace: str) -> str:
    return f"{namespace}:near-cache:members"


class NearCache:
    """One process's (one app's) near-cache: Redis key → (field, value, expiry), usable while live."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._items: dict[str, tuple[str | None, Any, float]] = {}
        self._seq = 0
        self._live_until = 0.0  # by the last pong
        self._registered_until = 0.0  # by the last refresh of the membership
        self.member = f"{os.getpid()}:{os.urandom(6).hex()}"

    @property
    def live(self) -> bool:
        now = time.monotonic()
        return now < self._live_until and now < self._registered_until

    def get(self, key: str, field: str | None = None) -> Any | None:
        """The value held for `key` (and `field`), or None: unknown, expired, or not live."""
        item = self._items.get(key)
        if item is None:
            return None
        now = time.monotonic()
        if now >= item[2]:
            del self._items[key]  # expired items go when met, not only when the cache is full
            return None
        if now >= self._live_until or now >= self._registered_until or item[0] != field:
            return None
        return item[1]

    def mark(self) -> int:
        """Note this before reading Redis; pass it to `put`."""
        return self._seq

    def put(self, key: str, value: Any, mark: int, *, field: str | None = None, ttl: float | None = None) -> None:
        """Keep `value` read from Redis after `mark()`, unless a notice was handled since (or not live)."""
        if mark != self._seq or not self.live:
            return
        if len(self._items) >= MAX_ITEMS:
            self._items.clear()
        # Each item lives a random 50-100 % of the TTL: items kept together (a warm-up, a burst) would
        # otherwise expire together and send every request at once to Redis for a moment.
        lifetime = self.ttl_seconds * (0.5 + random() / 2)
        if ttl is not None:
            lifetime = min(ttl, lifetime)
        if lifetime > 0:
            self._items[key] = (field, value, time.monotonic() + lifetime)

    def drop(self, keys: Iterable[str]) -> None:
        self._seq += 1
        for key in keys:
            self._items.pop(key, None)

    def reset(self) -> None:
        """Forget everything and stop serving until a pong proves the subscription live again."""
        self._seq += 1
        self._live_until = 0.0
        self._items.clear()

    def confirmed(self, ping_sent_at: float) -> None:
        self._live_until = max(self._live_until, ping_sent_at + LIVENESS_SECONDS)

    def registered(self, sent_at: float) -> None:
        """The membership was refreshed by a call sent at `sent_at`: it lasts past sent_at + the TTL."""
        self._registered_until = max(self._registered_until, sent_at + MEMBER_TTL_SECONDS)

    def __len__(self) -> int:
        return len(self._items)


async def _ack(redis: Redis, ack_key: str, member: str) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.rpush(ack_key, member)
        pipe.expire(ack_key, ACK_TTL_SECONDS)
        await pipe.execute()


async def _close(pubsub: Any) -> None:
    with contextlib.suppress(Exception):  # a dead connection may not close cleanly; never hang on it
        async with asyncio.timeout(2.0):
            await pubsub.aclose()


async def _register(near: NearCache, redis: Redis, namespace: str, *, leave: bool = False) -> None:
    sent_at = time.monotonic()
    ttl_ms = 0 if leave else int(MEMBER_TTL_SECONDS * 1000)
    await run_script(redis, _REGISTER_LUA, [members_key(namespace)], [near.member, ttl_ms])
    if not leave:
        near.registered(sent_at)


async def _listen(near: NearCache, redis: Redis, subscriber: Redis, namespace: str, stop: asyncio.Event) -> None:
    """One subscription's life: clear on subscribe, drop and ack each notice, ping to stay live."""
    pubsub = subscriber.pubsub()
    try:
        await pubsub.subscribe(channel_name(namespace))
        next_ping = next_register = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_register:
                await _register(near, redis, namespace)
                next_register = now + REGISTER_EVERY_SECONDS
            if now >= next_ping:
                # Sent from this task only, between reads: no command races the blocked read.
                await pubsub.ping(repr(now))
                next_ping = now + PING_INTERVAL_SECONDS
            message = await pubsub.get_message(timeout=PING_INTERVAL_SECONDS)
            if message is None:
                continue
            kind = message["type"]
            if kind == "message":
                notice = _decode_notice(message["data"])
                near.drop(notice.keys)
                if notice.origin != near.member:  # this process's own writer dropped them already
                    await _ack(redis, notice.ack_key, near.member)
            elif kind == "pong":
                with contextlib.suppress(ValueError):  # redis-py's own health-check pongs
                    near.confirmed(float(message["data"]))
            elif kind == "subscribe":
                near.reset()  # anything may have changed while not subscribed
    finally:
        near.reset()
        await _close(pubsub)


async def keep_subscribed(
    near: NearCache, redis: Redis, subscriber: Redis, namespace: str, stop: asyncio.Event
) -> None:
    """Run until `stop`: (re)subscribe after any failure; not live in between. `subscriber` holds the
    subscription (a client of its own, named for CLIENT LIST)."""
    last_log = 0.0
    while not stop.is_set():
        try:
            await _listen(near, redis, subscriber, namespace, stop)
        except Exception as exc:  # Redis away or restarted: requests take the Redis path meanwhile
            if time.monotonic() - last_log > 30:
                last_log = time.monotonic()
                logger.warning("near-cache subscription lost; retrying", error=f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RECONNECT_SECONDS)


def subscriber_name(namespace: str, near: NearCache) -> str:
    """The subscription connection's CLIENT SETNAME (operators and tests find it in CLIENT LIST)."""
    return f"{namespace}:near-cache:{near.member}"


@contextlib.asynccontextmanager
async def running(redis: Redis, settings: Settings) -> AsyncIterator[NearCache | None]:
    """The process's near-cache with its subscription task (None when NEAR_CACHE_TTL_SECONDS is 0)."""
    if settings.NEAR_CACHE_TTL_SECONDS <= 0:
        yield None
        return
    namespace = settings.REDIS_NAMESPACE
    near = NearCache(settings.NEAR_CACHE_TTL_SECONDS)
    subscriber = Redis.from_url(
        settings.redis_url,
        client_name=subscriber_name(namespace, near),
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        max_connections=2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(keep_subscribed(near, redis, subscriber, namespace, stop), name="near-cache")
    _own[redis] = near
    try:
        yield near
    finally:
        _own.pop(redis, None)
        # Stopped by an event, not by cancelling it: a cancellation that meets redis-py's timed read
        # can be swallowed, and the task then blocks in its next read for good.
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if not done:
            task.cancel()
        with contextlib.suppress(Exception):  # writers need not wait for a process that has stopped
            async with asyncio.timeout(1.0):
                await _register(near, redis, namespace, leave=True)
        await subscriber.aclose()


class Notice(NamedTuple):
    """A notice of changed keys, to publish in the writer's own MULTI (`add_to`), then `await_acks`."""

    channel: str
    payload: bytes
    ack_key: str

    members: str
    # The writer's own process's near-cache (None: a client without one, e.g. a SAQ worker's) and the
    # keys: `await_acks` drops them there itself instead of waiting for its subscriber.
    own: NearCache | None = None
    keys: tuple[str, ...] = ()

    def add_to(self, pipe: Pipeline) -> None:
        """Queue the PUBLISH and the read of the members: the last two replies of the pipeline, for
        `await_acks(redis, notice, *replies[-2:])`."""
        pipe.publish(self.channel, self.payload)
        pipe.eval(_MEMBERS_LUA, 1, self.members)


def drop_in_process(keys: Iterable[str]) -> None:
    """Drop `keys` from every near-cache of this process (a writer whose notice could not be published)."""
    wanted = list(keys)
    for near in list(_own.values()):
        near.drop(wanted)


def notice_of(redis: Redis, keys: Iterable[str]) -> Notice | None:
    """A notice for `keys` on the client's namespace; None for a client not made by `create_redis`."""
    namespace = namespace_of(redis)
    wanted = list(keys)
    if namespace is None or not wanted:
        return None
    ack_key = f"{namespace}:near-cache:ack:{os.urandom(12).hex()}"
    own = _own.get(redis)
    payload = _encode(_Notice(ack_key, wanted, own.member if own is not None else ""))
    return Notice(channel_name(namespace), payload, ack_key, members_key(namespace), own, tuple(wanted))


async def await_acks(redis: Redis, notice: Notice, listeners: Any, members: Any) -> bool:
    """Wait until every member (as read with the PUBLISH) dropped the keys (True), at most
    ACK_DEADLINE_SECONDS: a member that does not ack has stopped serving from its near-cache by then.
    `listeners` (PUBLISH's count) is only logged. Never raises."""
    deadline = time.monotonic() + ACK_DEADLINE_SECONDS
    waiting = {member.decode() if isinstance(member, bytes) else str(member) for member in members}
    if notice.own is not None:
        # The writer's own process: dropped here, now that the change is in Redis (a read of this
        # process that began before sees the drop and does not keep what it read, see `mark`), so
        # the writer does not wait for its own subscriber (a BLPOP and its ack's RPUSH less).
        notice.own.drop(notice.keys)
        waiting.discard(notice.own.member)
    try:
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0.001:
                break
            reply = await redis.blpop([notice.ack_key], timeout=remaining)
            if reply is None:
                break
            acked = reply[1]
            waiting.discard(acked.decode() if isinstance(acked, bytes) else str(acked))
    except Exception as exc:
        logger.warning("near-cache acks not awaited", error=f"{type(exc).__name__}: {exc}")
    if waiting:
        logger.warning("near-cache notice not acknowledged by every process", missing=len(waiting), listeners=listeners)
        remaining = deadline - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
        return False
    return True


async def announce(redis: Redis, keys: Iterable[str]) -> None:
    """Publish a notice of `keys` on its own (for writers that do not hold a MULTI) and await the acks.
    Raises RedisError when the notice could not be published."""
    notice = notice_of(redis, keys)
    if notice is None:
        return
    async with redis.pipeline(transaction=True) as pipe:
        notice.add_to(pipe)
        replies = await pipe.execute()
    await await_acks(redis, notice, *replies[-2:])
