"""The shared Redis client: one blocking pool per process (a plain pool raises past its limit), and
Lua scripts run by their SHA (redis-py's registered scripts: EVALSHA, loaded once on NOSCRIPT)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from redis.asyncio import BlockingConnectionPool, Redis
from redis.commands.core import AsyncScript

from app.config import Settings

_scripts: WeakKeyDictionary[Redis, dict[str, AsyncScript]] = WeakKeyDictionary()


def create_redis(settings: Settings, *, decode_responses: bool = False) -> Redis:
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.REDIS_MAX_CONNECTIONS,
        timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=15,
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
