"""`app export-files`: rebuild the old file store from PostgreSQL, for a rollback to the old app.

Each project is written with ``filestore.writer`` under its project lock: documents first (from the
storage, hash-checked, with their original modification time), then positions.json,
audit_results.json and project.json last. The dual-write mirror uses the same per-project writer.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.domain.filestore.atomic import _create_temp, _discard, ensure_dir, fsync_dir, project_lock
from app.domain.filestore.blobs import blob_file, copy_hashed, storage_root
from app.domain.filestore.layout import JSON_FILES, LOCK_FILE, is_store_internal
from app.domain.filestore.legacy import LegacyProject
from app.domain.filestore.mapping import DocumentCopy, legacy_project_from_rows
from app.domain.filestore.postgres_rows import Executor, load_projects, project_ids_page
from app.domain.filestore.writer import _checked_directory, write_project

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PAGE = 50


class ExportError(Exception):
    """A project could not be written to the store (a stored document is missing or corrupt ...)."""


@dataclass
class ExportFailure:
    project_id: str
    reason: str


@dataclass
class ExportReport:
    data_dir: str
    projects: int = 0
    positions: int = 0
    audit_results: int = 0
    documents: int = 0
    bytes_copied: int = 0
    duration_s: float = 0.0
    failed: list[ExportFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def human(self) -> str:
        lines = [
            f"exported to {self.data_dir}: {self.projects} projects, {self.positions} positions, "
            f"{self.audit_results} audit results, {self.documents} documents ({self.bytes_copied} bytes copied) "
            f"in {self.duration_s:.1f} s",
            *(f"  FAILED  {f.project_id}: {f.reason}" for f in self.failed),
            "OK" if self.ok else f"FAILED: {len(self.failed)} project(s) not exported",
        ]
        return "\n".join(lines)


def project_directory(data_dir: Path, project: LegacyProject) -> Path:
    """The project's directory in the store (refuses names that would leave it)."""
    return data_dir / _checked_directory(project.directory)


def write_stored_project(
    data_dir: Path,
    storage: Path,
    project: LegacyProject,
    copies: list[DocumentCopy],
    *,
    prune: bool = False,
    lock: bool = True,
) -> int:
    """Write one project into the store; returns the document bytes copied.

    ``prune`` deletes the project's files that PostgreSQL no longer has (the mirror's view: the
    store follows PostgreSQL exactly). ``lock=False`` when the caller holds the project lock.
    """
    project_dir = project_directory(data_dir, project)
    guard: AbstractContextManager[object] = project_lock(project_dir) if lock else nullcontext()
    with guard:
        copied = sum(_place_document(storage, project_dir, copy) for copy in copies)
        if prune:
            _prune(project_dir, {copy.relative_path for copy in copies})
        write_project(data_dir, project, (), lock=False)
    return copied


def _place_document(storage: Path, project_dir: Path, copy: DocumentCopy) -> int:
    """Copy one stored document into the project directory unless it is already there."""
    target = project_dir / copy.relative_path
    mtime_ns = _mtime_ns(copy)
    try:
        stat = target.stat()
        if stat.st_size == copy.size and stat.st_mtime_ns // 1000 == mtime_ns // 1000:
            return 0
    except FileNotFoundError:
        pass
    source = blob_file(storage, copy.storage_path)
    ensure_dir(target.parent)
    fd, temp = _create_temp(target)
    try:
        try:
            copied_sha256, written = copy_hashed(source, fd)
        except FileNotFoundError as exc:
            raise ExportError(f"stored copy of {copy.relative_path} is missing ({copy.storage_path})") from exc
        if copied_sha256 != copy.sha256 or written != copy.size:
            raise ExportError(f"stored copy of {copy.relative_path} does not match its hash ({copy.storage_path})")
        os.utime(temp, ns=(mtime_ns, mtime_ns))
        os.replace(temp, target)
    except BaseException:
        _discard(temp)
        raise
    fsync_dir(target.parent)
    return written


def _mtime_ns(copy: DocumentCopy) -> int:
    return (copy.mtime - _EPOCH) // timedelta(microseconds=1) * 1000


def _prune(project_dir: Path, keep: set[str]) -> None:
    """Delete files of the project directory that are not documents to keep (nor the store's own)."""
    for folder, _, names in os.walk(project_dir, topdown=False):
        relative_folder = os.path.relpath(folder, project_dir)
        for name in names:
            relative = name if relative_folder == "." else f"{relative_folder}/{name}"
            if relative in keep or relative in JSON_FILES or relative == LOCK_FILE or is_store_internal(relative):
                continue
            os.unlink(os.path.join(folder, name))
        if relative_folder != "." and not os.listdir(folder):
            os.rmdir(folder)


async def export_projects(
    db: Executor,
    settings: Settings,
    data_dir: Path,
    project_ids: list[uuid.UUID],
    report: ExportReport,
    *,
    prune: bool = False,
) -> None:
    """Export the given projects (missing ones are ignored) into ``data_dir``."""
    storage = storage_root(settings.STORAGE_DIR)
    stored = await load_projects(db, project_ids)
    for project_id in project_ids:
        found = stored.get(project_id)
        if found is None:
            continue
        try:
            project, copies = legacy_project_from_rows(found)
            copied = await asyncio.to_thread(write_stored_project, data_dir, storage, project, copies, prune=prune)
        except (ExportError, OSError, ValueError) as exc:
            report.failed.append(ExportFailure(str(project_id), f"{exc.__class__.__name__}: {exc}"))
            continue
        report.projects += 1
        report.positions += len(project.positions)
        report.audit_results += len(project.audit_results)
        report.documents += len(copies)
        report.bytes_copied += copied


async def export_store(
    settings: Settings,
    data_dir: Path,
    *,
    prune: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Export every project of PostgreSQL into ``data_dir`` (created when missing)."""
    from app.domain.filestore.postgres_rows import project_count

    started = time.perf_counter()
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    report = ExportReport(data_dir=str(data_dir))
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            if on_start is not None:
                on_start(await project_count(conn))
            after: uuid.UUID | None = None
            while True:
                ids = await project_ids_page(conn, after=after, limit=_PAGE)
                if not ids:
                    break
                await export_projects(conn, settings, data_dir, ids, report, prune=prune)
                await conn.rollback()  # end the read transaction of the page
                if on_progress is not None:
                    on_progress(len(ids))
                after = ids[-1]
    finally:
        await engine.dispose()
    report.duration_s = round(time.perf_counter() - started, 3)
    return report
