"""Fixtures of the file-store migration tests: a database of their own (emptied before each test),
an old-style store on disk and settings pointing at both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from app.domain.filestore.migrate import asyncpg_dsn
from app.lib.infra import migrate
from tests.integration.filestore.support import FileStoreEnv
from tests.support.servers import TestServers, create_database, drop_database


@pytest.fixture(scope="session")
def filestore_database(servers: TestServers) -> Iterator[str]:
    """A migrated database for these tests only: they count and compare whole tables."""
    name = f"{make_url(servers.database_url).database}_fs"
    url = create_database(servers.database_url, name)
    try:
        migrate(url)
        yield url
    finally:
        drop_database(servers.database_url, name)


@pytest.fixture
async def fs(filestore_database: str, settings: Settings, tmp_path: Path) -> FileStoreEnv:
    conn = await asyncpg.connect(asyncpg_dsn(filestore_database))
    try:
        await conn.execute("TRUNCATE users, projects, outbox_messages CASCADE")
    finally:
        await conn.close()
    data_dir = tmp_path / "data" / "projects"
    data_dir.mkdir(parents=True)
    storage_dir = tmp_path / "storage"
    test_settings = msgspec.structs.replace(
        settings,
        DATABASE_URL=filestore_database,
        STORAGE_DIR=str(storage_dir),
        DATA_DIR=str(data_dir),
        BACKUP_DIR=str(tmp_path / "backups"),
    )
    return FileStoreEnv(test_settings, data_dir, storage_dir, filestore_database)
