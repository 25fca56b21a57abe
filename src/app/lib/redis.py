"""The shared Redis client: one blocking pool per process (a plain pool raises past its limit)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from app.config import Settings


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
