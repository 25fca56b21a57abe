"""Test session bootstrap: real PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set),
a fresh migrated database and a Redis db number of our own for this run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings, get_settings, load_settings
from tests.support.servers import TestServers, isolated


def _reset_caches() -> None:
    from app.lib.db import alchemy_config

    get_settings.cache_clear()
    alchemy_config.cache_clear()


@pytest.fixture(scope="session")
def servers() -> Iterator[TestServers]:
    from app.lib.infra import ensure_servers, migrate, stop_servers

    outer = load_settings()
    started = ensure_servers(outer)
    try:
        with isolated(outer.database_url, outer.redis_url) as test_servers:
            migrate(test_servers.database_url)
            saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "REDIS_NAMESPACE")}
            os.environ["DATABASE_URL"] = test_servers.database_url
            os.environ["REDIS_URL"] = test_servers.redis_url
            os.environ["REDIS_NAMESPACE"] = test_servers.namespace
            _reset_caches()
            try:
                yield test_servers
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
                _reset_caches()
    finally:
        stop_servers(outer, started)


@pytest.fixture(scope="session")
def settings(servers: TestServers) -> Settings:
    return get_settings()


@pytest.fixture
def app(settings: Settings) -> Litestar:
    """A fresh app (and engine: the test client runs each app on its own event loop, and asyncpg
    connections must not cross loops)."""
    from app.lib.db import alchemy_config
    from app.server import build_app

    alchemy_config.cache_clear()
    return build_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
