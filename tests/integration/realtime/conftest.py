"""Fixtures of the live-event tests: two real API processes (granian) and a worker, one namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.config import Settings
from tests.support.live import (
    LiveApi,
    LiveProcess,
    LiveUser,
    create_live_user,
    live_env,
    start_api,
    start_worker,
    wait_for_worker,
    wait_until_ready,
    with_live_timings,
)

SOCKET_BACKLOG = 50


@pytest.fixture(scope="session")
def live_settings(settings: Settings) -> Settings:
    return with_live_timings(settings)


@pytest.fixture(scope="module")
async def live_cluster(
    live_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[LiveApi, LiveApi, LiveProcess]]:
    """API A (where jobs are started), API B (where sockets connect), one worker."""
    logs: Path = tmp_path_factory.mktemp("realtime-logs")
    env = live_env(live_settings, WEBSOCKET_BACKLOG=str(SOCKET_BACKLOG))
    api_a = start_api(env, logs, name="api-a")
    api_b = start_api(env, logs, name="api-b")
    worker = start_worker(env, logs)
    try:
        await asyncio.gather(wait_until_ready(api_a), wait_until_ready(api_b), wait_for_worker(live_settings, worker))
        yield api_a, api_b, worker
    finally:
        for process in (api_a.process, api_b.process, worker):
            process.stop()


@pytest.fixture
async def owner(live_settings: Settings) -> LiveUser:
    return await create_live_user(live_settings)


@pytest.fixture
async def stranger(live_settings: Settings) -> LiveUser:
    return await create_live_user(live_settings)
