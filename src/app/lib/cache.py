"""Cache-aside on Redis that never serves a value older than the last committed write.

A cached entry is a Redis string (`key`) or one field of a Redis hash (`key` + `field`, for families
of values that are dropped together, such as a user's project list under several query strings).
Every key has a generation counter (`{key}:gen`), and every stored entry carries the generation it
was filled under: `{generation}\\x1f{tag}\\x1f{body}`. An entry whose generation is not the current
one is a miss, so invalidating is one INCR of the generation — nothing is deleted, however many
pages a family holds (stale entries are overwritten by the next fill or expire with their TTL).

A reader notes the generation BEFORE it loads from PostgreSQL and stores its result only if the
generation is still the same (one Lua script, so the check and the write are atomic); a writer bumps
the generation AFTER its commit. A reader that loaded before the commit therefore can never re-fill
the cache with the old value, and the next read after the commit misses.

The body is stored already encoded (msgspec JSON, encoded once at fill) so that a hit can be sent
as it is; the `tag` is what a caller needs to decide visibility without decoding the body (the
owner's id of a project state). The read is one Lua call by SHA, or none at all when the request gate
(app.domain.accounts.middleware) fetched the entry in its own single round trip (`CACHE_PREFETCH_OPT`).

Hit and miss counts are tallied in this process and exported as `concrete_agent_cache_events_total`
(app.lib.metrics, merged across workers in multiprocess mode): nothing on the read path writes to Redis.

An invalidation also drops the keys from every API process's near-cache (app.lib.near_cache) and
waits for them before it returns.

When Redis fails, reads go to the loader and invalidations are remembered in this process and
replayed before the next cached read, which until then bypasses the cache, and by a background task
every REPLAY_EVERY_SECONDS until Redis takes them (other processes know nothing of them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NamedTuple, TypeVar

import msgspec
import structlog
from litestar.types import Scope
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.lib import near_cache
from app.lib.metrics import count_cache_event
from app.lib.redis import registered_script, run_script

logger = structlog.get_logger(__name__)

T = TypeVar("T")

SEPARATOR = b"\x1f"  # never inside msgspec JSON (control characters are escaped) nor inside a tag
# A generation key outlives every entry filled under it (each fill refreshes it).
_GENERATION_TTL_SECONDS = 7 * 24 * 3600
# A hash family with more fields than this is dropped at the next fill (stale query pages add up).
_MAX_FIELDS = 256

# Route opt: `{CACHE_PREFETCH_OPT: Prefetch(...)}` lets the request gate read the entry in the same
# Redis call as the session and the rate limit, and answer a visible hit itself.
CACHE_PREFETCH_OPT = "cache_prefetch"
_PREFETCHED_STATE = "cache_prefetched"

# A Lua function shared by the read script below and the request gate's script.
READ_ENTRY_LUA = """
local function cache_read(key, generation_key, field)
  local generation = redis.call('GET', generation_key) or '0'
  local stored
  if field == '' then stored = redis.call('GET', key) else stored = redis.call('HGET', key, field) end
  return generation, stored
end
"""

_READ_SCRIPT = (
    READ_ENTRY_LUA
    + """
local generation, stored = cache_read(KEYS[1], KEYS[2], ARGV[1])
return {generation, stored}
"""
)

# KEYS: entry, generation. ARGV: generation seen before loading, ttl, tag\x1fbody, field or '',
# generation ttl, max fields.
_FILL_SCRIPT = """
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
if current ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
local entry = current .. '\\31' .. ARGV[3]
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], entry, 'EX', ARGV[2])
else
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then redis.call('DEL', KEYS[1]) end
  redis.call('HSET', KEYS[1], ARGV[4], entry)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class CacheRead(NamedTuple):
    """What Redis holds for one entry: the current generation and the stored entry (or None)."""

    generation: bytes
    stored: bytes | None


class CachedBytes(NamedTuple):
    """An entry as stored: a short tag (e.g. the owner's id) and the encoded body."""

    tag: str
    body: bytes


class Prefetch(NamedTuple):
    """How a route's cached entry is read by the request gate (the value of `CACHE_PREFETCH_OPT`).

    `entry(scope, user_id)` names the entry of this request for its user (the id as text, known to
    the gate before it reads Redis), `(key, field or None)`, or None to read nothing.
    With `visible(tag, user)`, a current entry the user may see is answered by the gate at once with
    the stored JSON bytes — no handler, no decoding; anything else (a miss, another user's entry)
    goes on to the handler, which gets what was read through `prefetched`.
    """

    entry: Callable[[Scope, str], tuple[str, str | None] | None]
    family: str
    visible: Callable[[str, Any], bool] | None = None


# Keys whose invalidation failed (Redis down); replayed before the cache is trusted again, and by a
# task of their own (other processes, which may serve those entries, know nothing of them).
_pending_invalidations: set[str] = set()
REPLAY_EVERY_SECONDS = 0.5
_replaying: set[asyncio.Task[None]] = set()  # referenced until done (the loop keeps weak ones)


def generation_key(key: str) -> str:
    return f"{key}:gen"


def cache_read_of(reply: Any) -> CacheRead:
    """A [generation, stored] Redis reply as a CacheRead."""
    generation, stored = reply
    return CacheRead(generation if isinstance(generation, bytes) else str(generation).encode(), stored)


def current_entry(read: CacheRead) -> CachedBytes | None:
    """The stored entry if it was filled under the current generation, else None (a miss)."""
    if read.stored is None:
        return None
    generation, _, rest = read.stored.partition(SEPARATOR)
    if generation != read.generation:
        return None
    tag, separator, body = rest.partition(SEPARATOR)
    if not separator:
        return None
    return CachedBytes(tag.decode(), body)


def remember_prefetch(scope: Scope, key: str, field: str | None, read: CacheRead) -> None:
    """Called by the request gate with what it read for the route's `CACHE_PREFETCH_OPT`."""
    scope.setdefault("state", {})[_PREFETCHED_STATE] = (key, field, read)


def prefetched(scope: Scope, key: str, field: str | None = None) -> CacheRead | None:
    """What the request gate already read for exactly this entry, if it did."""
    found = scope.get("state", {}).get(_PREFETCHED_STATE)
    if found is None or found[0] != key or found[1] != field:
        return None
    read: CacheRead = found[2]
    return read


def invalidations_pending() -> bool:
    """Whether an invalidation of this process failed and is not replayed yet: until it is, no entry
    read from Redis may be answered without that replay (the request gate then leaves the read to the
    handler, whose `get_or_load_entry` replays first)."""
    return bool(_pending_invalidations)


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


async def _invalidate(redis: Redis, keys: Iterable[str], fills: Iterable[Fill] = (), ttl_seconds: int = 0) -> None:
    """Bump the generations and tell the API processes' near-caches in the same MULTI (both happen or
    neither, so a failure leaves nothing half done for the replay), then wait for their acks. `fills`
    are stored right after the bumps, each only if its key's generation is then the one it names."""
    keys = list(keys)
    notice = near_cache.notice_of(redis, keys)
    async with redis.pipeline(transaction=True) as pipe:
        for key in keys:
            pipe.incr(generation_key(key))
            pipe.expire(generation_key(key), _GENERATION_TTL_SECONDS)
        for fill in fills:
            # EVAL, not a registered script: a pipeline with scripts first asks SCRIPT EXISTS (a round trip).
            pipe.eval(
                _FILL_SCRIPT,
                2,
                fill.key,
                generation_key(fill.key),
                *_fill_args(fill.generation, fill.entry, ttl_seconds, fill.field),
            )
        if notice is not None:
            notice.add_to(pipe)
        replies = await pipe.execute()
    if notice is not None:
        await near_cache.await_acks(redis, notice, *replies[-2:])


async def invalidate(redis: Redis, *keys: str, fills: Iterable[Fill] = (), ttl_seconds: int = 0) -> None:
    """Make the cached entries of `keys` (every field of a hash family) stale after a committed write:
    one generation bump per key. Never raises (a failure is replayed later).

    `fills` write through in the same MULTI: each entry is stored only if its key's generation, right
    after the bump, is the one the fill names (the writer read the generation before its commit and
    names that + 1: any other write's bump in between, even one that committed later, leaves it out)."""
    if not keys:
        return
    try:
        await _invalidate(redis, keys, fills, ttl_seconds)
    except RedisError as exc:
        _pending_invalidations.update(keys)
        near_cache.drop_in_process(keys)  # nobody was told: at least this process stops serving them
        _replay_in_background(redis)
        logger.warning("cache invalidation deferred: redis unavailable", keys=list(keys), error=str(exc))


def _replay_in_background(redis: Redis) -> None:
    """Replay the failed invalidations as soon as Redis answers, whatever this process does meanwhile:
    until then other processes serve the old entries (a quiet API process or a SAQ worker may not
    read the cache again for long). One task per event loop at a time."""
    loop = asyncio.get_running_loop()
    if any(task.get_loop() is loop for task in _replaying):
        return
    task = loop.create_task(_replay_until_done(redis))
    _replaying.add(task)
    task.add_done_callback(_replaying.discard)


async def _replay_until_done(redis: Redis) -> None:
    while _pending_invalidations:
        await asyncio.sleep(REPLAY_EVERY_SECONDS)
        try:
            if await _replay_pending(redis):
                return
        except Exception as exc:  # the client was closed (the process stops): its next start is clean
            logger.warning("cache invalidation replay stopped", error=f"{type(exc).__name__}: {exc}")
            return


def _fill_args(generation: bytes, entry: CachedBytes, ttl_seconds: int, field: str | None) -> list[Any]:
    return [
        generation,
        ttl_seconds,
        entry.tag.encode() + SEPARATOR + entry.body,
        field or "",
        max(_GENERATION_TTL_SECONDS, 2 * ttl_seconds),
        _MAX_FIELDS,
    ]


async def _fill(
    redis: Redis, key: str, field: str | None, generation: bytes, entry: CachedBytes, ttl_seconds: int
) -> None:
    """Store `entry` if the generation is still the one read before loading it (atomic, in Lua)."""
    await run_script(redis, _FILL_SCRIPT, [key, generation_key(key)], _fill_args(generation, entry, ttl_seconds, field))


async def usable(redis: Redis) -> bool:
    """Whether cached entries may be trusted: False while an invalidation that failed earlier (Redis
    down) cannot be replayed yet. For callers that read entries with a script of their own."""
    return await _replay_pending(redis)


class Fill(NamedTuple):
    """An entry to store (see `store`): loaded after `generation` was read for `key` (and `field`)."""

    key: str
    generation: bytes
    entry: CachedBytes
    field: str | None = None


async def store(redis: Redis, fills: Iterable[Fill], *, ttl_seconds: int) -> None:
    """Store entries loaded AFTER their generation was read (as a miss does in `get_or_load_entry`):
    each is kept only if its generation is still that one. One round trip however many; for callers
    that read entries with a script of their own. Never raises."""
    batch = list(fills)
    if not batch:
        return
    script = registered_script(redis, _FILL_SCRIPT)
    try:
        if len(batch) == 1:  # one EVALSHA: a pipeline first asks SCRIPT EXISTS (a round trip more)
            await _fill(redis, batch[0].key, batch[0].field, batch[0].generation, batch[0].entry, ttl_seconds)
            return
        async with redis.pipeline(transaction=False) as pipe:
            for fill in batch:
                await script(
                    keys=[fill.key, generation_key(fill.key)],
                    args=_fill_args(fill.generation, fill.entry, ttl_seconds, fill.field),
                    client=pipe,
                )
            await pipe.execute()
    except RedisError as exc:
        logger.warning("cache fill skipped: redis unavailable", keys=[fill.key for fill in batch], error=str(exc))


def count(family: str, *, hit: bool) -> None:
    """One cache look-up of `family`, in this process's counters (exported on /metrics)."""
    count_cache_event("hit" if hit else "miss", family)


async def get_or_load_entry(
    redis: Redis,
    key: str,
    loader: Callable[[], Awaitable[CachedBytes | None]],
    *,
    ttl_seconds: int,
    family: str,
    field: str | None = None,
    read: CacheRead | None = None,
    fits: Callable[[CachedBytes], bool] | None = None,
) -> CachedBytes | None:
    """The stored entry of `key` (or of `field` in hash `key`), loading and storing it on a miss.

    `read` is what the request gate already fetched (see `prefetched`); without it one Lua call
    reads the entry. `loader` reads PostgreSQL and returns the encoded entry; `None` is not cached.
    A current entry that does not `fit` (a page tagged with another version than the caller's) is a
    miss too: the load replaces it, under the generation read before, as any miss's would.
    """
    if not await _replay_pending(redis):
        return await loader()
    if read is None:
        try:
            read = cache_read_of(await run_script(redis, _READ_SCRIPT, [key, generation_key(key)], [field or ""]))
        except RedisError as exc:
            logger.warning("cache read skipped: redis unavailable", key=key, error=str(exc))
            return await loader()
    entry = current_entry(read)
    if entry is not None and (fits is None or fits(entry)):
        count(family, hit=True)
        return entry
    count(family, hit=False)
    entry = await loader()
    if entry is None:
        return entry
    try:
        await _fill(redis, key, field, read.generation, entry, ttl_seconds)
    except RedisError as exc:
        logger.warning("cache fill skipped: redis unavailable", key=key, error=str(exc))
    return entry


async def refresh_entry(
    redis: Redis,
    key: str,
    loader: Callable[[], Awaitable[CachedBytes | None]],
    *,
    ttl_seconds: int,
    field: str | None = None,
) -> None:
    """Fill `key` with a fresh load right after a write (write-through), so the next read is a hit.

    The same rule as a miss: the generation is read before loading and the entry is stored only if
    it is unchanged, so a later writer's commit is never hidden. Best effort, never raises."""
    try:
        if not await _replay_pending(redis):
            return
        read = cache_read_of(await run_script(redis, _READ_SCRIPT, [key, generation_key(key)], [field or ""]))
        entry = await loader()
        if entry is not None:
            await _fill(redis, key, field, read.generation, entry, ttl_seconds)
    except Exception as exc:  # the next read loads it instead
        logger.warning("cache refresh skipped", key=key, error=f"{type(exc).__name__}: {exc}")


async def get_or_load(
    redis: Redis,
    key: str,
    loader: Callable[[], Awaitable[T | None]],
    value_type: type[T],
    *,
    ttl_seconds: int,
    field: str | None = None,
    family: str = "other",
) -> T | None:
    """Like `get_or_load_entry` for callers that want the decoded value (msgspec JSON)."""
    loaded: list[T] = []

    async def load_encoded() -> CachedBytes | None:
        value = await loader()
        if value is None:
            return None
        loaded.append(value)
        return CachedBytes("", msgspec.json.encode(value))

    entry = await get_or_load_entry(redis, key, load_encoded, ttl_seconds=ttl_seconds, family=family, field=field)
    if loaded:
        return loaded[0]
    if entry is None:
        return None
    try:
        return msgspec.json.decode(entry.body, type=value_type)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return await loader()  # an entry of an older shape: answer from the source
