"""Watching one API instance (a test client's app) in a test: its near-cache and its Redis calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.lib import near_cache


def near_of(client: AsyncTestClient[Litestar]) -> near_cache.NearCache:
    near: near_cache.NearCache = client.app.state[near_cache.NEAR_CACHE_STATE]
    return near


async def until_live(client: AsyncTestClient[Litestar], seconds: float = 10.0) -> None:
    """Poll until the instance's near-cache subscription is proven live."""
    near = near_of(client)
    deadline = time.monotonic() + seconds
    while not near.live:
        assert time.monotonic() < deadline, "the near-cache subscription did not become live"
        await asyncio.sleep(0.01)


@contextmanager
def redis_calls(client: AsyncTestClient[Litestar]) -> Iterator[list[tuple[Any, ...]]]:
    """The commands the instance's Redis client sends meanwhile (its pipelines aside)."""
    redis = client.app.state.redis
    calls: list[tuple[Any, ...]] = []
    execute = redis.execute_command

    async def counted(*args: Any, **options: Any) -> Any:
        calls.append(args)
        return await execute(*args, **options)

    redis.execute_command = counted
    try:
        yield calls
    finally:
        redis.execute_command = execute
