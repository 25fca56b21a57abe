"""Fixtures of the whole-chain tests: a real API process (granian) and a real worker sharing one STORAGE_DIR."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from tests.integration.workflow.http_steps import Stack
from tests.support.live import (
    live_env,
    start_api,
    start_worker,
    wait_for_worker,
    wait_until_ready,
    with_live_timings,
)


@pytest.fixture(scope="session")
def live_settings(settings: Settings) -> Settings:
    return with_live_timings(settings)


@pytest.fixture(scope="module")
async def stack(live_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The API and the worker must share STORAGE_DIR: uploads are written by one and read by the other."""
    base = tmp_path_factory.mktemp("workflow")
    env = live_env(live_settings, STORAGE_DIR=str(base / "storage"), JOB_MODULES="")
    api = start_api(env, base / "logs")
    worker = start_worker(env, base / "logs")
    try:
        await asyncio.gather(wait_until_ready(api), wait_for_worker(live_settings, worker))
        yield Stack(api=api, worker=worker, storage_dir=base / "storage")
    finally:
        for process in (api.process, worker):
            process.stop()
