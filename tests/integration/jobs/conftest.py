"""Fixtures of the jobs tests: one real worker process per module, users, and an in-process API
whose settings match the worker's (2 s heartbeat, fast retries, the test job types)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.support import job_types as _test_job_types  # noqa: F401  (registered in this process too)
from tests.support.live import (
    LiveProcess,
    LiveUser,
    create_live_user,
    live_env,
    start_worker,
    wait_for_worker,
    with_live_timings,
)


@pytest.fixture(scope="session")
def live_settings(settings: Settings) -> Settings:
    return with_live_timings(settings)


@pytest.fixture(scope="session")
def live_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live-logs")


@pytest.fixture(scope="module")
async def worker(live_settings: Settings, live_logs: Path) -> AsyncIterator[LiveProcess]:
    """Module-scoped on purpose: a worker's reconciler adopts every stalled row of the database, so it
    must not outlive its module while test_job_recovery's workers use namespaces of their own."""
    process = start_worker(live_env(live_settings), live_logs)
    try:
        await wait_for_worker(live_settings, process)
        yield process
    finally:
        process.stop()


@pytest.fixture
def app(live_settings: Settings, tmp_path: Path) -> Litestar:
    from app.server import build_app

    return build_app(msgspec.structs.replace(live_settings, STORAGE_DIR=str(tmp_path / "storage")))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
async def owner(live_settings: Settings) -> LiveUser:
    return await create_live_user(live_settings)


@pytest.fixture
async def stranger(live_settings: Settings) -> LiveUser:
    return await create_live_user(live_settings)
