"""The shared Redis client: one blocking pool per process (a plain pool raises past its limit), and
Lua scripts run by their SHA (redis-py's registered scripts: EVALSHA, loaded once on NOSCRIPT).

A pooled connection can be dead without the pool knowing (Redis restarted, a proxy dropped it): the
client retries a command that failed on a broken connection once, at once, on a fresh connection, so
the first request after a Redis restart is answered instead of failing with 503.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.config import Settings

RETRIES_ON_A_DEAD_CONNECTION = 1
_scripts: WeakKeyDictionary[Redis, dict[str, AsyncScript]] = WeakKeyDictionary()


def create_redis(settings: Settings, *, decode_responses: bool = False) -> Redis:
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=15,
        retry=Retry(NoBackoff(), RETRIES_ON_A_DEAD_CONNECTION),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        decode_responses=decode_responses,
    )
    return Redis(connection_pool=pool)


def registered_script(redis: Redis, source: str) -> AsyncScript:
    """`source` registered on this client once (its SHA computed once); calls send only the SHA."""
    scripts = _scripts.get(redis)
    if scripts is None:
        scripts = _scripts[redis] = {}
    script = scripts.get(source)
    if script is None:
        script = scripts[source] = redis.register_script(source)
    return script
