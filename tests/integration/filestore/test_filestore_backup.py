"""Backups: pg_dump -Fc of a migrated database restored into a fresh one holds the same rows; retention."""

from __future__ import annotations

import os
import types
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from app.domain.filestore.migrate import asyncpg_dsn, migrate_store
from app.domain.system import cli as commands
from app.domain.system.backup import (
    BACKUP_PREFIX,
    backup_database,
    create_backup,
    default_backup_path,
    enqueue_daily_backup,
    prune_backups,
    restore_backup,
)
from tests.fixtures.legacy_store import sample_store
from tests.integration.filestore.support import TABLES, FileStoreEnv

CHECKED_TABLES = (*TABLES, "alembic_version")


async def table_checksums(dsn: str) -> dict[str, tuple[int, str | None]]:
    """Row count and an md5 over every row (in a fixed order) of each key table."""
    conn = await asyncpg.connect(dsn)
    try:
        found: dict[str, tuple[int, str | None]] = {}
        for table in CHECKED_TABLES:
            order = "version_num" if table == "alembic_version" else "id"
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY {order})) AS digest FROM {table} t"
            )
            found[table] = (row["n"], row["digest"])
        return found
    finally:
        await conn.close()


async def test_backup_restores_into_a_fresh_database_with_the_same_rows(fs: FileStoreEnv, tmp_path: Path) -> None:
    sample_store(fs.data_dir)
    await migrate_store(fs.settings, fs.data_dir)
    original = await table_checksums(fs.dsn)
    assert original["positions"][0] > 0

    backup = await create_backup(fs.settings, tmp_path / "nightly.dump")
    assert backup.size > 0 and is_custom_format_dump(backup.path)

    fresh = f"{make_url(fs.database_url).database}_restore_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(fs.dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{fresh}"')
        fresh_url = make_url(fs.database_url).set(database=fresh).render_as_string(hide_password=False)
        await restore_backup(fs.settings, Path(backup.path), database_url=fresh_url)
        assert await table_checksums(asyncpg_dsn(fresh_url)) == original
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
        await admin.close()


def is_custom_format_dump(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(5) == b"PGDMP"


def seed_backups(backup_dir: Path, retention_days: int) -> tuple[Path, Path, Path]:
    """An expired backup, a recent one and a file that is no backup of ours (old, but kept)."""
    backup_dir.mkdir(parents=True)
    old = default_backup_path(backup_dir, datetime.now(UTC) - timedelta(days=retention_days + 1))
    recent = default_backup_path(backup_dir, datetime.now(UTC) - timedelta(days=2))
    unrelated = backup_dir / "keep-me.dump"
    for path in (old, recent, unrelated):
        path.write_bytes(b"x")
    os.utime(unrelated, (0, 0))
    return old, recent, unrelated


async def test_the_daily_job_writes_a_backup_and_prunes_old_ones(fs: FileStoreEnv, tmp_path: Path) -> None:
    backup_dir = tmp_path / "backups"
    assert str(backup_dir) == fs.settings.BACKUP_DIR
    old, recent, unrelated = seed_backups(backup_dir, fs.settings.BACKUP_RETENTION_DAYS)

    result = await backup_database(types.SimpleNamespace(settings=fs.settings))
    assert result["pruned"] == [str(old)]
    written = result["path"].rsplit("/", 1)[-1]
    assert written.startswith(BACKUP_PREFIX) and is_custom_format_dump(result["path"])
    assert sorted(p.name for p in os.scandir(backup_dir)) == sorted([written, recent.name, unrelated.name])


def test_prune_keeps_everything_within_retention(tmp_path: Path) -> None:
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    for days in (0, 29, 31, 45):
        default_backup_path(tmp_path, now - timedelta(days=days)).write_bytes(b"x")
    pruned = prune_backups(tmp_path, 30, now)
    assert [p.name for p in pruned] == [
        default_backup_path(tmp_path, now - timedelta(days=45)).name,
        default_backup_path(tmp_path, now - timedelta(days=31)).name,
    ]
    assert prune_backups(tmp_path, 0, now) == []


def test_db_backup_command(fs: FileStoreEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "get_settings", lambda: fs.settings)
    target = tmp_path / "manual.dump"
    result = CliRunner().invoke(commands.db_backup_command, ["--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.is_file() and "backup written" in result.output


async def test_the_daily_trigger_submits_one_backup_job_a_day(fs: FileStoreEnv) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from app.domain.jobs.queues import JobQueues

    engine = create_async_engine(fs.database_url)
    queues = JobQueues(fs.settings)
    resources = types.SimpleNamespace(
        settings=fs.settings, sessions=async_sessionmaker(engine, expire_on_commit=False), queues=queues
    )
    try:
        assert await enqueue_daily_backup({"resources": resources})
        assert not await enqueue_daily_backup(resources)  # already submitted today
    finally:
        await queues.close()
        await engine.dispose()
    conn = await asyncpg.connect(fs.dsn)
    try:
        rows = await conn.fetch("SELECT job_type, queue, status FROM background_jobs")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [("backup", "low", "queued")]


def test_a_restore_into_a_non_empty_database_names_the_cause_and_the_remedy(
    fs: FileStoreEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "get_settings", lambda: fs.settings)
    backup = tmp_path / "full.dump"
    assert CliRunner().invoke(commands.db_backup_command, ["--output", str(backup)]).exit_code == 0
    result = CliRunner().invoke(commands.db_restore_command, [str(backup), "--yes"])
    assert result.exit_code == 1, result.output
    assert "already exists" in result.output  # the cause, not the SQL pg_restore was running
    assert "Command was" not in result.output
    assert "--clean" in result.output and "freshly created database" in result.output
