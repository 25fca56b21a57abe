"""Cache-aside on Redis that never serves a value older than the last committed write.

A cached entry is a Redis string (`key`) or one field of a Redis hash (`key` + `field`, for families
of values that are dropped together, such as a user's project list under several query strings).
Every key has a generation counter (`{key}:gen`). A reader notes the generation BEFORE it loads
from PostgreSQL and stores its result only if the generation is still the same (one Lua script, so
the check and the write are atomic); a writer bumps the generation and deletes the entry AFTER its
commit. A reader that loaded before the commit therefore can never re-fill the cache with the old
value. When Redis fails, reads go to the loader and invalidations are remembered in this process and
replayed before the next cached read, which until then bypasses the cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.lib.metrics import CACHE_HITS_KEY, CACHE_MISSES_KEY

logger = structlog.get_logger(__name__)

T = TypeVar("T")

# The generation key outlives any plausible read-load-fill round trip by far.
_GENERATION_TTL_SECONDS = 7 * 24 * 3600

_FILL_SCRIPT = """
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[4], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

# Keys whose invalidation failed (Redis down); replayed before the cache is trusted again.
_pending_invalidations: set[str] = set()


def generation_key(key: str) -> str:
    return f"{key}:gen"


async def _replay_pending(redis: Redis) -> bool:
    """Invalidate what failed earlier; False while that is still impossible."""
    if not _pending_invalidations:
        return True
    keys = list(_pending_invalidations)
    try:
        await _invalidate(redis, keys)
    except RedisError:
        return False
    _pending_invalidations.difference_update(keys)
    return True


async def _invalidate(redis: Redis, keys: Iterable[str]) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for key in keys:
            pipe.incr(generation_key(key))
            pipe.expire(generation_key(key), _GENERATION_TTL_SECONDS)
            pipe.delete(key)
        await pipe.execute()


async def invalidate(redis: Redis, *keys: str) -> None:
    """Drop cached entries after a committed write; never raises (a failure is replayed later)."""
    if not keys:
        return
    try:
        await _invalidate(redis, keys)
    except RedisError as exc:
        _pending_invalidations.update(keys)
        logger.warning("cache invalidation deferred: redis unavailable", keys=list(keys), error=str(exc))


async def _count(redis: Redis, metric_key: str) -> None:
    with contextlib.suppress(RedisError):
        await redis.incr(metric_key)


async def get_or_load(
    redis: Redis,
    key: str,
    loader: Callable[[], Awaitable[T | None]],
    value_type: type[T],
    *,
    ttl_seconds: int,
    field: str | None = None,
) -> T | None:
    """The cached value of `key` (or of `field` in hash `key`), loading and storing it on a miss.

    `loader` reads PostgreSQL; its result is encoded with msgspec. A `None` result is not cached.
    """
    if not await _replay_pending(redis):
        return await loader()
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(generation_key(key))
            if field is None:
                pipe.get(key)
            else:
                pipe.hget(key, field)
            generation_raw, cached = await pipe.execute()
    except RedisError as exc:
        logger.warning("cache read skipped: redis unavailable", key=key, error=str(exc))
        return await loader()
    if cached is not None:
        try:
            value = msgspec.json.decode(cached, type=value_type)
        except msgspec.DecodeError:
            value = None  # a value of an older shape: treat as a miss
        if value is not None:
            await _count(redis, CACHE_HITS_KEY)
            return value
    await _count(redis, CACHE_MISSES_KEY)
    generation = generation_raw.decode() if isinstance(generation_raw, bytes) else str(generation_raw or "0")
    value = await loader()
    if value is None:
        return value
    try:
        await redis.eval(
            _FILL_SCRIPT,
            2,
            key,
            generation_key(key),
            generation,
            str(ttl_seconds),
            msgspec.json.encode(value),
            field or "",
        )
    except RedisError as exc:
        logger.warning("cache fill skipped: redis unavailable", key=key, error=str(exc))
    return value
