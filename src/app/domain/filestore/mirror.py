"""Dual-write: after a write to PostgreSQL commits, the project is re-exported to the file store.

PostgreSQL is the truth; the store follows it project by project. One writer per project at a
time (``async_project_lock``), and the rows are loaded *under* the lock, so when two writes race the
later mirror always writes the newer state. A mirror never fails the request: it is retried, and
when it still fails it is logged and recorded in the Redis set ``{namespace}:filestore:mirror:failed``
(``app migrate-files --verify`` lists those projects; a later successful mirror clears the mark).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, get_settings
from app.domain.filestore.atomic import LockTimeout, async_project_lock, fsync_dir
from app.domain.filestore.blobs import storage_root
from app.domain.filestore.export import ExportError, project_directory, write_stored_project
from app.domain.filestore.ids import stable_uuid
from app.domain.filestore.layout import LOCK_FILE
from app.domain.filestore.mapping import PROJECT_META_LEGACY, PROJECT_META_LEGACY_ID, legacy_project_from_rows
from app.domain.filestore.postgres_rows import load_projects
from app.domain.filestore.writer import _checked_directory

logger = structlog.get_logger(__name__)

SessionSource = AsyncSession | async_sessionmaker[AsyncSession]
MIRROR_ATTEMPTS = 3
MIRROR_BACKOFF_SECONDS = (0.2, 1.0)
LOCK_TIMEOUT_SECONDS = 30.0
DELETED_FOLDER = ".deleted"  # hidden: scan_store skips it; deleted projects' files are kept there


def mirror_failures_key(settings: Settings) -> str:
    return f"{settings.REDIS_NAMESPACE}:filestore:mirror:failed"


async def mirror_project(
    db: SessionSource,
    project_id: uuid.UUID,
    *,
    settings: Settings | None = None,
    redis: Redis | None = None,
) -> bool:
    """Re-export one project from PostgreSQL to the store after a commit; True when it worked.

    A no-op (True) unless the settings write files (MIGRATION_MODE=dual_write). Never raises for a
    failed mirror: retried, then logged and recorded for ``--verify``. Give it the request's session
    after its commit, or a session factory.
    """
    settings = settings or get_settings()
    if not settings.writes_files or not settings.writes_postgres:
        return True
    error: BaseException | None = None
    for attempt in range(MIRROR_ATTEMPTS):
        try:
            await _mirror_once(db, settings, project_id)
        except (OSError, ExportError, ValueError, SQLAlchemyError, LockTimeout) as exc:
            error = exc
            logger.warning("file-store mirror failed", project_id=str(project_id), attempt=attempt + 1, error=str(exc))
            if attempt < len(MIRROR_BACKOFF_SECONDS):
                await asyncio.sleep(MIRROR_BACKOFF_SECONDS[attempt])
            continue
        await _mark(settings, redis, project_id, failed=False)
        return True
    logger.error("file-store mirror gave up", project_id=str(project_id), error=str(error))
    await _mark(settings, redis, project_id, failed=True)
    return False


def mirror_after_job_commit(ctx: Any, project_id: uuid.UUID) -> None:
    """From a job handler (app.domain.jobs.context.JobContext): mirror the project once the job's
    transaction has committed, with a session of its own."""
    sessions = async_sessionmaker(ctx.session.bind, expire_on_commit=False)

    async def mirror_now() -> None:
        await mirror_project(sessions, project_id, settings=ctx.settings, redis=ctx.redis)

    if ctx.settings.writes_files and ctx.settings.writes_postgres:
        ctx.after_commit(mirror_now)


async def mirror_deleted_project(
    project_id: uuid.UUID,
    project_metadata: dict[str, Any] | None,
    *,
    settings: Settings | None = None,
) -> Path | None:
    """After a project was deleted in PostgreSQL: move its directory into ``{DATA_DIR}/.deleted/``
    (hidden from the store, bytes kept). ``project_metadata`` is the row's metadata read *before*
    the delete (it names the directory of a migrated project). Returns the new place, if any."""
    settings = settings or get_settings()
    if not settings.writes_files or not settings.writes_postgres:
        return None
    data_dir = Path(settings.DATA_DIR)
    try:
        directory = _checked_directory(_directory_name(project_id, project_metadata or {}))
    except ValueError as exc:
        logger.error("deleted project's directory unusable", project_id=str(project_id), error=str(exc))
        return None
    source = data_dir / directory
    if not source.is_dir():
        return None
    target = data_dir / DELETED_FOLDER / f"{directory}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}"
    try:
        async with async_project_lock(source, timeout=LOCK_TIMEOUT_SECONDS):
            await asyncio.to_thread(_move, source, target)
    except (OSError, LockTimeout) as exc:
        logger.error("deleted project's files not moved", project_id=str(project_id), error=str(exc))
        await _mark(settings, None, project_id, failed=True)
        return None
    return target


async def mirror_failures(settings: Settings, redis: Redis | None = None) -> list[str]:
    """Project ids whose last mirror failed (empty when Redis cannot be reached)."""
    try:
        async with _redis(settings, redis) as client:
            members = await client.smembers(mirror_failures_key(settings))
    except (RedisError, OSError) as exc:
        logger.warning("mirror failures not read", error=str(exc))
        return []
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)


async def _mirror_once(db: SessionSource, settings: Settings, project_id: uuid.UUID) -> None:
    data_dir = Path(settings.DATA_DIR)
    async with _session(db) as session:
        stored = (await load_projects(session, [project_id])).get(project_id)
    if stored is None:
        return  # deleted meanwhile: mirror_deleted_project's business
    project, _ = legacy_project_from_rows(stored)
    project_dir = project_directory(data_dir, project)
    try:
        async with async_project_lock(project_dir, timeout=LOCK_TIMEOUT_SECONDS):
            async with _session(db) as session:  # again under the lock: the newest committed state
                stored = (await load_projects(session, [project_id])).get(project_id)
            if stored is None:
                return
            project, copies = legacy_project_from_rows(stored)
            storage = storage_root(settings.STORAGE_DIR)
            await asyncio.to_thread(write_stored_project, data_dir, storage, project, copies, prune=True, lock=False)
    except BaseException:
        await asyncio.to_thread(_drop_if_only_the_lock, project_dir)
        raise


def _drop_if_only_the_lock(project_dir: Path) -> None:
    """A first mirror that failed leaves no directory holding just the lock (no project.json)."""
    with contextlib.suppress(OSError):
        if [entry.name for entry in os.scandir(project_dir)] == [LOCK_FILE]:
            (project_dir / LOCK_FILE).unlink()
            project_dir.rmdir()


@contextlib.asynccontextmanager
async def _session(db: SessionSource) -> AsyncIterator[AsyncSession]:
    if isinstance(db, AsyncSession):
        yield db  # the caller's session (after its commit): left as it is, its objects stay loaded
        return
    async with db() as session:
        yield session


@contextlib.asynccontextmanager
async def _redis(settings: Settings, redis: Redis | None) -> AsyncIterator[Redis]:
    if redis is not None:
        yield redis
        return
    from app.lib.redis import create_redis

    client = create_redis(settings)
    try:
        yield client
    finally:
        await client.aclose()


async def _mark(settings: Settings, redis: Redis | None, project_id: uuid.UUID, *, failed: bool) -> None:
    try:
        async with _redis(settings, redis) as client:
            if failed:
                await client.sadd(mirror_failures_key(settings), str(project_id))
            else:
                await client.srem(mirror_failures_key(settings), str(project_id))
    except (RedisError, OSError) as exc:
        logger.error("mirror state not recorded", project_id=str(project_id), failed=failed, error=str(exc))


def _directory_name(project_id: uuid.UUID, metadata: dict[str, Any]) -> str:
    legacy = metadata.get(PROJECT_META_LEGACY)
    legacy_metadata = legacy.get("metadata") if isinstance(legacy, dict) else None
    if isinstance(legacy_metadata, dict) and isinstance(legacy_metadata.get("legacy_directory"), str):
        return str(legacy_metadata["legacy_directory"])
    legacy_id = metadata.get(PROJECT_META_LEGACY_ID)
    if isinstance(legacy_id, str) and legacy_id and stable_uuid("project", legacy_id) == project_id:
        return legacy_id
    return str(project_id)


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    fsync_dir(source.parent)
    fsync_dir(target.parent)
