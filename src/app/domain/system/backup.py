"""Database backups: `app db backup` / `app db restore` (pg_dump -Fc / pg_restore) and the daily job.

The client binaries must fit the server: the system's pg_dump when its major version matches the
server's, else the embedded server's own (app.lib.embedded.pg_binary), else the nearest newer one.
A backup is written to a temp name and renamed, so a file named *.dump is always complete. The
daily job (queue `low`) writes to settings.BACKUP_DIR and prunes files older than
settings.BACKUP_RETENTION_DAYS.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from app.config import Settings, get_settings
from app.lib.files import ensure_dir, fsync_dir
from app.lib.operator_errors import with_remedy

logger = structlog.get_logger(__name__)

BACKUP_PREFIX = "concrete_agent-"
BACKUP_SUFFIX = ".dump"
DAILY_BACKUP_CRON = "15 3 * * *"  # 03:15 UTC, a quiet hour
_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_STAMP = re.compile(rf"^{re.escape(BACKUP_PREFIX)}(\d{{8}}T\d{{6}}Z)")


class BackupError(Exception):
    """pg_dump / pg_restore failed or no fitting binary was found; the message says why."""


@dataclass
class BackupResult:
    path: str
    size: int
    server_version: int
    tool: str
    duration_s: float
    pruned: list[str]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Connections and binaries


def libpq_connection(database_url: str) -> tuple[str, dict[str, str]]:
    """(libpq URI without the password, environment with PGPASSWORD) for the settings' URL."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


async def server_major_version(database_url: str) -> int:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


@lru_cache(maxsize=32)
def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def _candidates(name: str) -> list[str]:
    found: list[str] = []
    system = shutil.which(name)
    if system:
        found.append(system)
    found += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    try:
        from app.lib.embedded import pg_binary

        embedded = pg_binary(name)
        if embedded.is_file():
            found.append(str(embedded))
    except ImportError:  # the embedded server wheel is not installed
        pass
    return list(dict.fromkeys(found))


def pg_tool(name: str, server_major: int) -> str:
    """The ``name`` binary (pg_dump, pg_restore) that fits a server of major ``server_major``."""
    versions = {path: _tool_major(path) for path in _candidates(name)}
    exact = [path for path, major in versions.items() if major == server_major]
    if exact:
        return exact[0]
    newer = sorted((major, path) for path, major in versions.items() if major is not None and major > server_major)
    if newer:
        return newer[0][1]
    found = ", ".join(f"{path} ({major})" for path, major in versions.items()) or "none"
    raise BackupError(f"no {name} for PostgreSQL {server_major} (found: {found})")


async def _run(command: list[str], env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        output = stderr.decode("utf-8", "replace")
        logger.debug("database tool failed", command=Path(command[0]).name, stderr=output[-20000:])
        raise BackupError(describe_tool_failure(Path(command[0]).name, process.returncode or 1, output))


def describe_tool_failure(tool: str, returncode: int, stderr: str) -> str:
    """One readable message for a failed pg_dump / pg_restore: the error lines of its output (not the
    SQL it was running, which pg_restore prints after the error), then what to do about it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    causes = [line for line in lines if re.search(r"\b(error|fatal|ERROR|FATAL)\b", line)]
    shown = list(dict.fromkeys(causes or lines[-5:]))[:5]
    return with_remedy(f"{tool} failed ({returncode}): " + (" | ".join(shown) or "no output"))


# ---------------------------------------------------------------------------------------------
# Backup, restore, retention


def default_backup_path(backup_dir: Path, now: datetime | None = None) -> Path:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return backup_dir / f"{BACKUP_PREFIX}{moment.strftime(_STAMP_FORMAT)}{BACKUP_SUFFIX}"


async def create_backup(settings: Settings, output: Path | None = None) -> BackupResult:
    """pg_dump -Fc of the settings' database to ``output`` (default: BACKUP_DIR/concrete_agent-<UTC>.dump)."""
    started = datetime.now(UTC)
    target = (output or default_backup_path(Path(settings.BACKUP_DIR), started)).resolve()
    ensure_dir(target.parent)
    major = await server_major_version(settings.database_url)
    tool = pg_tool("pg_dump", major)
    uri, env = libpq_connection(settings.database_url)
    temp = target.with_name(f".{target.name}.partial")
    try:
        await _run([tool, "--format=custom", "--compress=6", f"--file={temp}", f"--dbname={uri}"], env)
        await asyncio.to_thread(_fsync_and_rename, temp, target)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    duration = (datetime.now(UTC) - started).total_seconds()
    logger.info("database backup written", path=str(target), size=target.stat().st_size, tool=tool)
    return BackupResult(str(target), target.stat().st_size, major, tool, round(duration, 3), [])


async def restore_backup(
    settings: Settings, backup: Path, *, database_url: str | None = None, clean: bool = False
) -> str:
    """pg_restore ``backup`` into the settings' database (or ``database_url``); returns the tool used.

    ``clean`` drops the objects first (restoring over a live database); without it the target
    should be empty (a freshly created database).
    """
    if not await asyncio.to_thread(backup.is_file):
        raise BackupError(f"backup file {backup} does not exist")
    url = database_url or settings.database_url
    major = await server_major_version(url)
    tool = pg_tool("pg_restore", major)
    uri, env = libpq_connection(url)
    command = [tool, "--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={uri}"]
    if clean:
        command[1:1] = ["--clean", "--if-exists"]
    await _run([*command, str(backup)], env)
    logger.info("database restored", path=str(backup), tool=tool)
    return tool


def _fsync_and_rename(temp: Path, target: Path) -> None:
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, target)


def backup_time(path: Path) -> datetime:
    """When a backup was taken: from its name, else its modification time."""
    found = _STAMP.match(path.name)
    if found:
        return datetime.strptime(found.group(1), _STAMP_FORMAT).replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def prune_backups(backup_dir: Path, retention_days: int, now: datetime | None = None) -> list[Path]:
    """Delete backups (concrete_agent-*.dump) older than ``retention_days``; returns what went."""
    if retention_days <= 0 or not backup_dir.is_dir():
        return []
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    pruned: list[Path] = []
    for path in sorted(backup_dir.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}")):
        if path.is_file() and backup_time(path) < cutoff:
            path.unlink()
            pruned.append(path)
    return pruned


# ---------------------------------------------------------------------------------------------
# The scheduled job


async def backup_database(ctx: Any, job: Any = None, progress: Any = None) -> dict[str, Any]:
    """Job handler of job type `backup` (queue `low`): a backup into BACKUP_DIR, then retention.

    Signature of app.domain.jobs.registry handlers: (JobContext, BackgroundJob, ProgressReporter).
    """
    settings: Settings = getattr(ctx, "settings", None) or get_settings()
    if progress is not None:
        await progress(0.1, "Dumping the database", current_step="dump", total_steps=2)
    result = await create_backup(settings)
    pruned = prune_backups(Path(settings.BACKUP_DIR), settings.BACKUP_RETENTION_DAYS)
    result.pruned = [str(path) for path in pruned]
    if progress is not None:
        await progress(1.0, f"Backup written, {len(pruned)} old backup(s) pruned", current_step="prune")
    return result.as_json()


async def enqueue_daily_backup(ctx: Any) -> bool:
    """Submit the day's `backup` job unless one was submitted in the last 23 hours; True when it did.

    Idempotent and safe from many workers at once (an advisory lock), so it can run from a SAQ
    cron job (``CronJob(enqueue_daily_backup, cron=DAILY_BACKUP_CRON)`` on the low queue) or from a
    periodic loop such as the reconciler. ``ctx`` is SAQ's context holding ``ctx["resources"]``, or
    the worker's WorkerResources itself (``settings``, ``sessions``, ``queues``).
    """
    from sqlalchemy import func, select, text

    from app.db.models import BackgroundJob
    from app.domain.jobs.services import submit_job

    resources = ctx["resources"] if isinstance(ctx, dict) else ctx
    async with resources.sessions() as session:
        lock = text("SELECT pg_try_advisory_xact_lock(hashtext('concrete-agent:daily-backup'))")
        if not await session.scalar(lock):
            return False
        since = datetime.now(UTC) - timedelta(hours=23)
        recent = await session.scalar(
            select(func.count())
            .select_from(BackgroundJob)
            .where(BackgroundJob.job_type == "backup", BackgroundJob.created_at >= since)
            .where(BackgroundJob.status.in_(("queued", "running", "completed")))
        )
        if recent:
            await session.rollback()
            return False
        await submit_job(  # commits, which also releases the advisory lock
            session,
            job_type="backup",
            project_id=None,
            user_id=None,
            payload={"scheduled": True, "cron": DAILY_BACKUP_CRON},
            settings=resources.settings,
            queues=resources.queues,
        )
        return True
