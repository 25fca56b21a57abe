"""`app migrate-files`: take every project of the old file store over into PostgreSQL.

Per project: read the directory (``read_project``), copy its documents into the storage (temp name,
rename, before any commit), then write its rows in its own savepoint. Projects go in batches: one
transaction and a handful of bulk statements (COPY) per batch; when the batch fails, it is rolled
back and redone one project per savepoint, so a broken project is skipped alone with its reason.

Re-running is safe: rows have stable ids and a project's migrated rows are deleted and inserted
again in the same transaction; a project whose files have not changed since (same fingerprint, kept
in ``projects.metadata.migration``) is skipped. A kill at any moment loses at most the open batch,
which the next run redoes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from app.config import Settings
from app.domain.filestore.atomic import LockTimeout, project_lock
from app.domain.filestore.blobs import BlobMismatch, storage_root, store_blob
from app.domain.filestore.layout import LOCK_FILE, PROJECT_FILE
from app.domain.filestore.legacy import LegacyProject, LegacyProjectError
from app.domain.filestore.mapping import (
    MIGRATION_SOURCE,
    ProjectRows,
    json_text,
    owner_id_for,
    project_rows,
    version_id_for,
)
from app.domain.filestore.reader import fingerprint, read_project, scan_store

logger = structlog.get_logger(__name__)

UNUSABLE_PASSWORD_HASH = "!migrated-no-password"  # never verifies: argon2 refuses it as a hash
DEFAULT_BATCH_SIZE = 20
_COPY_THREADS = 4

# Column order of the bulk writes; JSON columns are sent as text.
PROJECT_COLUMNS = (
    "id",
    "user_id",
    "name",
    "description",
    "workflow",
    "status",
    "progress",
    "current_version",
    "total_positions",
    "total_cost",
    "issues_count_red",
    "issues_count_amber",
    "issues_count_green",
    "completed_at",
    "metadata",
    "created_at",
    "updated_at",
)
VERSION_COLUMNS = (
    "id",
    "project_id",
    "version",
    "trigger_type",
    "trigger_details",
    "total_positions",
    "total_cost",
    "delta_cost",
    "changes",
    "created_by",
    "created_at",
)
POSITION_COLUMNS = (
    "id",
    "project_id",
    "version_id",
    "lineage_id",
    "position_number",
    "code",
    "description",
    "category",
    "unit",
    "quantity",
    "unit_price",
    "total_price",
    "status",
    "confidence",
    "source",
    "source_document_id",
    "source_line",
    "enrichment",
    "metadata",
    "notes",
    "created_at",
    "updated_at",
)
AUDIT_COLUMNS = (
    "id",
    "project_id",
    "version_id",
    "position_id",
    "expert_role",
    "recommendation",
    "confidence",
    "reasoning",
    "evidence",
    "issues",
    "suggestions",
    "conflicts_with",
    "resolution",
    "metadata",
    "created_at",
)
DOCUMENT_COLUMNS = (
    "id",
    "project_id",
    "uploaded_by",
    "filename",
    "original_filename",
    "file_type",
    "mime_type",
    "file_size",
    "content_hash",
    "storage_path",
    "parse_status",
    "parse_error",
    "parsed_at",
    "extracted_data",
    "indexed_content",
    "metadata",
    "uploaded_at",
    "created_at",
    "updated_at",
)
JSON_COLUMNS = frozenset(
    {"metadata", "trigger_details", "changes", "enrichment", "evidence", "issues", "suggestions", "extracted_data"}
)

_UPSERT_PROJECT = (
    f"INSERT INTO projects ({', '.join(PROJECT_COLUMNS)}) VALUES "
    f"({', '.join(f'${i}' for i in range(1, len(PROJECT_COLUMNS) + 1))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in PROJECT_COLUMNS if c != 'id')}"
)


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL of the settings as a libpq URL asyncpg accepts."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class SkippedProject:
    directory: str
    reason: str
    kind: str = "failed"  # failed: not migrated because of an error; kept: PostgreSQL has newer data


@dataclass
class MigrationReport:
    """What a run did; ``ok`` says whether every project could be taken over."""

    data_dir: str
    dry_run: bool
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    duration_s: float = 0.0
    projects_found: int = 0
    projects_migrated: int = 0
    projects_unchanged: int = 0
    projects_kept: int = 0
    projects_failed: int = 0
    documents: int = 0
    positions: int = 0
    audit_results: int = 0
    audit_results_unplaced: int = 0
    bytes: int = 0
    bytes_copied: int = 0
    warnings: int = 0
    owners_created: list[str] = field(default_factory=list)
    skipped: list[SkippedProject] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.projects_failed == 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def human(self) -> str:
        """The report for people (stderr of the command)."""
        verb = "would migrate" if self.dry_run else "migrated"
        lines = [
            f"{'DRY RUN: ' if self.dry_run else ''}file store {self.data_dir}",
            f"  projects      {self.projects_found} found, {self.projects_migrated} {verb}, "
            f"{self.projects_unchanged} unchanged, {self.projects_kept} kept (newer in PostgreSQL), "
            f"{self.projects_failed} failed",
            f"  documents     {self.documents} ({_human_bytes(self.bytes)}; {_human_bytes(self.bytes_copied)} copied)",
            f"  positions     {self.positions}",
            f"  audit results {self.audit_results} (+ {self.audit_results_unplaced} kept in project metadata: "
            "position not found or not storable)",
            f"  warnings      {self.warnings} values kept verbatim in metadata (see legacy_warnings)",
        ]
        if self.owners_created:
            lines.append(f"  owners created {len(self.owners_created)}: {', '.join(self.owners_created[:10])}")
        lines.append(f"  took          {self.duration_s:.1f} s")
        for skipped in self.skipped:
            lines.append(f"  {skipped.kind.upper():7} {skipped.directory}: {skipped.reason}")
        lines.append("OK" if self.ok else f"FAILED: {self.projects_failed} project(s) not migrated")
        return "\n".join(lines)


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


ProgressCallback = Callable[[int, int], None]  # (projects done, bytes done), increments


# ---------------------------------------------------------------------------------------------
# Owners


class Owners:
    """Resolves a project's owner to a user id: its e-mail's account (created when missing), a
    UUID of an existing user, else the default owner (settings.MIGRATION_DEFAULT_OWNER)."""

    def __init__(self, conn: asyncpg.Connection, default_email: str, *, create: bool, dry_run: bool) -> None:
        self.conn = conn
        self.default_email = default_email.strip().lower()
        self.create = create
        self.dry_run = dry_run
        self.by_email: dict[str, uuid.UUID] = {}
        self.known_ids: set[uuid.UUID] = set()
        self.created: list[str] = []

    async def default(self) -> uuid.UUID:
        return await self._account(self.default_email, legacy_owner_id=None, create=True)

    async def resolve(self, project: LegacyProject) -> uuid.UUID:
        email = (project.owner_email or "").strip().lower()
        if "@" in email:
            found = await self._account(email, legacy_owner_id=project.owner_id, create=self.create)
            if found is not None:
                return found
        if project.owner_id:
            try:
                candidate = uuid.UUID(project.owner_id)
            except ValueError:
                candidate = None
            if candidate is not None and await self._user_exists(candidate):
                return candidate
        return await self.default()

    async def _user_exists(self, user_id: uuid.UUID) -> bool:
        if user_id in self.known_ids:
            return True
        found = await self.conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id)
        if found:
            self.known_ids.add(user_id)
        return bool(found)

    async def _account(self, email: str, *, legacy_owner_id: str | None, create: bool) -> Any:
        if email in self.by_email:
            return self.by_email[email]
        found = await self.conn.fetchval("SELECT id FROM users WHERE lower(email) = $1", email)
        if found is None and create:
            found = owner_id_for(email)
            if not self.dry_run:
                settings = {"created_by": "migrate-files"}
                if legacy_owner_id:
                    settings["legacy_owner_id"] = legacy_owner_id
                inserted = await self.conn.fetchval(
                    "INSERT INTO users (id, email, password_hash, role, status, email_verified, settings) "
                    "VALUES ($1, $2, $3, 'user', 'active', false, $4::jsonb) ON CONFLICT DO NOTHING RETURNING id",
                    found,
                    email,
                    UNUSABLE_PASSWORD_HASH,
                    json_text(settings),
                )
                if inserted is None:  # created meanwhile by someone else
                    found = await self.conn.fetchval("SELECT id FROM users WHERE lower(email) = $1", email)
            self.created.append(email)
        if found is not None:
            self.by_email[email] = found
        return found


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class _Prepared:
    directory: Path
    fingerprint: str
    project: LegacyProject
    disk_bytes: int
    rows: ProjectRows | None = None


async def migrate_store(
    settings: Settings,
    data_dir: Path,
    *,
    dry_run: bool = False,
    force: bool = False,
    create_owners: bool = True,
    replace_changed: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_start: Callable[[int, int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> MigrationReport:
    """Migrate every project directory of ``data_dir``; see the module docstring.

    ``replace_changed`` also re-imports projects changed in PostgreSQL since their migration (their
    newer versions, uploads and audits give way to the files: coming back after a rollback).
    A pipeline: while one batch is written to PostgreSQL, the next is read, turned into rows and
    has its documents copied (in threads), so the database and Python work at the same time.
    """
    started = time.perf_counter()
    report = MigrationReport(data_dir=str(data_dir), dry_run=dry_run)
    if not await asyncio.to_thread(data_dir.is_dir):
        raise FileNotFoundError(f"file store {data_dir} does not exist")
    directories = await asyncio.to_thread(lambda: list(scan_store(data_dir)))
    sizes = await asyncio.to_thread(lambda: {d: _disk_bytes(d) for d in directories})
    report.projects_found = len(directories)
    if on_start is not None:
        on_start(len(directories), sum(sizes.values()))
    progress = on_progress or (lambda projects, size: None)
    dsn = asyncpg_dsn(settings.database_url)
    conn = await asyncpg.connect(dsn)
    owners_conn = await asyncpg.connect(dsn)  # the producer's, while `conn` writes a batch
    try:
        # Safe here: a batch lost to a server crash has no fingerprint stored and is imported again.
        await conn.execute("SET synchronous_commit TO off")
        known = await _known(conn)
        run = _Run(
            report=report,
            data_dir=data_dir,
            root=storage_root(settings.STORAGE_DIR),
            known=known,
            owners=Owners(owners_conn, settings.MIGRATION_DEFAULT_OWNER, create=create_owners, dry_run=dry_run),
            sizes=sizes,
            force=force,
            dry_run=dry_run,
            migrated_at=datetime.now(UTC),
        )
        batches = list(_chunks(directories, max(1, batch_size)))
        claimed: dict[uuid.UUID, str] = {}
        with ThreadPoolExecutor(_COPY_THREADS, thread_name_prefix="migrate-copy") as copier:
            upcoming = asyncio.create_task(run.produce(batches[0], copier)) if batches else None
            try:
                for index in range(len(batches)):
                    assert upcoming is not None
                    prepared, skipped_bytes = await upcoming
                    upcoming = (
                        asyncio.create_task(run.produce(batches[index + 1], copier))
                        if index + 1 < len(batches)
                        else None
                    )
                    if dry_run:
                        for item in prepared:
                            _count(report, item)
                    elif prepared:
                        await _write_batch(conn, prepared, claimed, report, replace_changed=replace_changed)
                    progress(len(batches[index]), skipped_bytes + sum(item.disk_bytes for item in prepared))
            finally:
                if upcoming is not None:
                    upcoming.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await upcoming
        report.owners_created = run.owners.created
    finally:
        await conn.close()
        await owners_conn.close()
    report.finished_at = datetime.now(UTC).isoformat()
    report.duration_s = round(time.perf_counter() - started, 3)
    return report


@dataclass
class _Run:
    """The producing half of the pipeline: directories → prepared projects with rows and blobs."""

    report: MigrationReport
    data_dir: Path
    root: Path
    known: _Known
    owners: Owners
    sizes: dict[Path, int]
    force: bool
    dry_run: bool
    migrated_at: datetime

    async def produce(self, batch: Sequence[Path], copier: ThreadPoolExecutor) -> tuple[list[_Prepared], int]:
        """The batch's projects ready to write, and the bytes of the directories skipped."""
        outcomes = await asyncio.to_thread(lambda: [_prepare(d, self.known.fingerprints, self.force) for d in batch])
        prepared: list[_Prepared] = []
        skipped_bytes = 0
        for directory, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, _Prepared):
                outcome.disk_bytes = self.sizes[directory]
                prepared.append(outcome)
                continue
            skipped_bytes += self.sizes[directory]
            if outcome is None:
                self.report.projects_unchanged += 1
            else:
                _fail(self.report, directory, outcome)
        if not prepared:
            return [], skipped_bytes
        owners = [await self.owners.resolve(item.project) for item in prepared]
        await asyncio.to_thread(self._build_rows, prepared, owners)
        if self.dry_run:
            return prepared, skipped_bytes
        copied = await _copy_blobs(copier, self.root, prepared, self.report)
        kept = {id(item) for item in copied}
        skipped_bytes += sum(item.disk_bytes for item in prepared if id(item) not in kept)
        return copied, skipped_bytes

    def _build_rows(self, prepared: list[_Prepared], owners: list[uuid.UUID]) -> None:
        for item, owner in zip(prepared, owners, strict=True):
            item.rows = project_rows(
                item.project,
                owner_id=owner,
                storage_root=self.root,
                # For a project.json without timestamps: the time of its first import.
                fallback_time=self.known.created_at.get(item.project.id) or _mtime(item.directory / PROJECT_FILE),
                fingerprint=item.fingerprint,
                data_dir=str(self.data_dir),
                migrated_at=self.migrated_at,
            )


def read_consistently(directory: Path, *, lock_timeout: float = 30.0) -> tuple[str, LegacyProject]:
    """(fingerprint, project) of one directory, taken before the read so that a change during the
    read shows up next time. Directories the new code writes (they have a ``.lock``: dual-write,
    export) are read under their project lock, never half-way through a write; the old app's
    directories are only read, nothing is added to them."""
    if (directory / LOCK_FILE).exists():
        with project_lock(directory, timeout=lock_timeout):
            return fingerprint(directory), read_project(directory)
    return fingerprint(directory), read_project(directory)


def _prepare(directory: Path, known: set[str], force: bool) -> _Prepared | str | None:
    """The directory read, None when unchanged since its last import, or why it cannot be read.

    Runs in a thread: it only reads, the report is updated by the caller.
    """
    try:
        digest = fingerprint(directory)
        if digest in known and not force:
            return None
        digest, project = read_consistently(directory)
    except LockTimeout as exc:
        return f"busy: {exc}"
    except LegacyProjectError as exc:
        return exc.reason
    except OSError as exc:
        return f"cannot read: {exc}"
    return _Prepared(directory, digest, project, 0)


def _fail(report: MigrationReport, directory: Path, reason: str, kind: str = "failed") -> None:
    report.skipped.append(SkippedProject(directory.name, reason, kind))
    if kind == "failed":
        report.projects_failed += 1
        logger.warning("project not migrated", directory=directory.name, reason=reason)
    else:
        report.projects_kept += 1


def _count(report: MigrationReport, item: _Prepared) -> None:
    rows = item.rows
    assert rows is not None
    report.projects_migrated += 1
    report.documents += len(rows.documents)
    report.positions += len(rows.positions)
    report.audit_results += len(rows.audit_results)
    report.audit_results_unplaced += len(rows.unplaced)
    report.bytes += rows.bytes
    report.warnings += len(item.project.warnings)


async def _copy_blobs(
    copier: ThreadPoolExecutor, root: Path, prepared: list[_Prepared], report: MigrationReport
) -> list[_Prepared]:
    """Copy every document of the batch into the storage (threads); drop projects whose copy failed."""
    loop = asyncio.get_running_loop()

    def copy_project(item: _Prepared) -> int:
        assert item.rows is not None
        return sum(
            store_blob(root, blob.storage_path, item.directory / blob.relative_path, blob.sha256, blob.size)
            for blob in item.rows.blobs
        )

    results = await asyncio.gather(
        *(loop.run_in_executor(copier, copy_project, item) for item in prepared), return_exceptions=True
    )
    kept: list[_Prepared] = []
    for item, result in zip(prepared, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, BlobMismatch | OSError):
                raise result
            _fail(report, item.directory, f"document not copied: {result}")
            continue
        report.bytes_copied += result
        kept.append(item)
    return kept


async def _write_batch(
    conn: asyncpg.Connection,
    prepared: list[_Prepared],
    claimed: dict[uuid.UUID, str],
    report: MigrationReport,
    *,
    replace_changed: bool,
) -> None:
    """One transaction for the batch; bulk first, one savepoint per project when the bulk fails."""
    async with conn.transaction():
        writable = await _guard(conn, prepared, claimed, report, replace_changed=replace_changed)
        if not writable:
            return
        try:
            async with conn.transaction():
                await _write_rows(conn, [item.rows for item in writable if item.rows is not None])
            done = writable
        except (asyncpg.PostgresError, ValueError):  # ValueError: asyncpg refused a value client-side
            done = []
            for item in writable:
                assert item.rows is not None
                try:
                    async with conn.transaction():
                        await _write_rows(conn, [item.rows])
                except (asyncpg.PostgresError, ValueError) as exc:
                    _fail(report, item.directory, f"database refused it: {exc.__class__.__name__}: {exc}")
                    continue
                done.append(item)
    for item in done:
        _count(report, item)


async def _guard(
    conn: asyncpg.Connection,
    prepared: list[_Prepared],
    claimed: dict[uuid.UUID, str],
    report: MigrationReport,
    *,
    replace_changed: bool = False,
) -> list[_Prepared]:
    """Leave alone projects that PostgreSQL changed since their migration (or that were born there):
    after the cut-over PostgreSQL is the truth. Locks the existing rows for the transaction.
    ``claimed`` (project id → directory) refuses a second directory with the same project id."""
    ids = [item.project.id for item in prepared]
    version_ids = [version_id_for(item.project.legacy_id) for item in prepared]
    rows = await conn.fetch(
        """
        SELECT p.id,
               p.metadata ? 'migration' AS migrated,
               (SELECT count(*) FROM budget_versions v
                 WHERE v.project_id = p.id AND v.id <> ALL($2::uuid[])) AS other_versions,
               (SELECT count(*) FROM project_documents d
                 WHERE d.project_id = p.id AND coalesce(d.metadata->>'source', '') <> $3) AS other_documents,
               (SELECT count(*) FROM audit_results a
                 WHERE a.project_id = p.id AND coalesce(a.metadata->>'source', '') <> $3) AS other_audits
        FROM projects p WHERE p.id = ANY($1::uuid[])
        ORDER BY p.id
        FOR UPDATE OF p
        """,
        ids,
        version_ids,
        MIGRATION_SOURCE,
    )
    existing = {row["id"]: row for row in rows}
    writable: list[_Prepared] = []
    for item in prepared:
        found = existing.get(item.project.id)
        first = claimed.setdefault(item.project.id, item.directory.name)
        if first != item.directory.name:
            _fail(report, item.directory, f"directory {first} has the same project id {item.project.id}")
            continue
        if found is not None and not found["migrated"]:
            _fail(report, item.directory, "a project with this id was created in PostgreSQL; not overwritten", "kept")
            continue
        changed = found is not None and (found["other_versions"] or found["other_documents"] or found["other_audits"])
        if changed and not replace_changed:
            assert found is not None
            _fail(
                report,
                item.directory,
                f"changed in PostgreSQL since its migration ({found['other_versions']} newer budget versions, "
                f"{found['other_documents']} documents, {found['other_audits']} audit results); "
                "PostgreSQL kept (`app export-files` updates the files, `--replace-changed` re-imports them)",
                "kept",
            )
            continue
        writable.append(item)
    return writable


async def _write_rows(conn: asyncpg.Connection, batch: Sequence[ProjectRows]) -> None:
    ids = [rows.project["id"] for rows in batch]
    await conn.execute("DELETE FROM budget_versions WHERE project_id = ANY($1::uuid[])", ids)
    await conn.execute("DELETE FROM audit_results WHERE project_id = ANY($1::uuid[])", ids)
    await conn.execute("DELETE FROM project_documents WHERE project_id = ANY($1::uuid[])", ids)
    # The updated_at trigger bumps a value that an UPDATE leaves equal: move it away first, so a
    # re-import keeps the legacy timestamp.
    await conn.execute("UPDATE projects SET updated_at = '-infinity' WHERE id = ANY($1::uuid[])", ids)
    await conn.executemany(_UPSERT_PROJECT, [_record(rows.project, PROJECT_COLUMNS) for rows in batch])
    await _copy(conn, "budget_versions", VERSION_COLUMNS, [rows.version for rows in batch if rows.version])
    await _copy(conn, "project_documents", DOCUMENT_COLUMNS, [d for rows in batch for d in rows.documents])
    await _copy(conn, "positions", POSITION_COLUMNS, [p for rows in batch for p in rows.positions])
    await _copy(conn, "audit_results", AUDIT_COLUMNS, [a for rows in batch for a in rows.audit_results])


async def _copy(conn: asyncpg.Connection, table: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.copy_records_to_table(table, records=[_record(r, columns) for r in rows], columns=list(columns))


def _record(row: dict[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(json_text(row[c]) if c in JSON_COLUMNS else row[c] for c in columns)


@dataclass
class _Known:
    """What earlier runs left: fingerprints of migrated directories and projects' creation times."""

    fingerprints: set[str]
    created_at: dict[uuid.UUID, datetime]


async def _known(conn: asyncpg.Connection) -> _Known:
    rows = await conn.fetch(
        "SELECT id, created_at, metadata->'migration'->>'fingerprint' AS fp FROM projects WHERE metadata ? 'migration'"
    )
    return _Known({row["fp"] for row in rows if row["fp"]}, {row["id"]: row["created_at"] for row in rows})


def _chunks(items: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _disk_bytes(directory: Path) -> int:
    total = 0
    for folder, _, names in os.walk(directory):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _mtime(path: Path) -> datetime:
    """A file's modification time in UTC, microsecond precision (the epoch when it cannot be read)."""
    try:
        return _EPOCH + timedelta(microseconds=path.stat().st_mtime_ns // 1000)
    except OSError:
        return _EPOCH
