"""The shared Redis client: one blocking pool per process (a plain pool raises past its limit), and
Lua scripts run by their SHA (redis-py's registered scripts: EVALSHA, loaded once on NOSCRIPT).

A pooled connection can be dead without the pool knowing (Redis restarted, a proxy dropped it): the
client retries a command that failed on a broken connection once, at once, on a fresh connection, so
the first request after a Redis restart is answered instead of failing with 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from app.config import Settings

RETRIES_ON_A_DEAD_CONNECTION = 1
_scripts: WeakKeyDictionary[Redis, dict[str, AsyncScript]] = WeakKeyDictionary()
# The REDIS_NAMESPACE each client was made for: writers that only hold a client (cache invalidation,
# session changes) name the namespace's pub/sub channels with it (app.lib.near_cache).
_namespaces: WeakKeyDictionary[Redis, str] = WeakKeyDictionary()


def create_redis(settings: Settings, *, decode_responses: bool = False) -> Redis:
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=15,
        # A broken connection only: a timed-out command may have run (INCR, a publish) and is not repeated.
        retry=Retry(NoBackoff(), RETRIES_ON_A_DEAD_CONNECTION, supported_errors=(RedisConnectionError,)),
        retry_on_error=[RedisConnectionError],
        decode_responses=decode_responses,
    )
    client = Redis(connection_pool=pool)
    _namespaces[client] = settings.REDIS_NAMESPACE
    return client


def namespace_of(redis: Redis) -> str | None:
    """The REDIS_NAMESPACE of a client made by `create_redis` (None for any other client)."""
    return _namespaces.get(redis)


def registered_script(redis: Redis, source: str) -> AsyncScript:
    """`source` registered on this client once (its SHA computed once); calls send only the SHA."""
    scripts = _scripts.get(redis)
    if scripts is None:
        scripts = _scripts[redis] = {}
    script = scripts.get(source)
    if script is None:
        script = scripts[source] = redis.register_script(source)
    return script


async def run_script(redis: Redis, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """EVALSHA of a registered script; on NOSCRIPT (a restarted Redis) redis-py loads it and retries.

    The call goes to `execute_command` directly: redis-py's `evalsha` wrapper inspects its arguments
    on every call (a deprecation helper), which cost 8 % of a cached read in the profile."""
    script = registered_script(redis, source)
    try:
        return await redis.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    except NoScriptError:
        return await script(keys=keys, args=args)
