"""`app migrate-files --verify`: compare the file store with PostgreSQL, project by project.

For each project directory: the project rebuilt from its rows must equal the project read from the
files (every field, position, audit result and file, in order); every scalar of the JSON files must
appear in the rows (as a column or in metadata); every document's stored copy must hash to the
file's sha256. Projects found on one side only and failed dual-write mirrors are differences too.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import structlog
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.domain.filestore.atomic import LockTimeout
from app.domain.filestore.blobs import blob_file, hash_file, storage_root
from app.domain.filestore.layout import AUDIT_FILE, POSITIONS_FILE, POSITIONS_SCHEMA, PROJECT_FILE, SCHEMA_KEY
from app.domain.filestore.legacy import LegacyProject, LegacyProjectError
from app.domain.filestore.mapping import StoredProject, legacy_project_from_rows, to_json
from app.domain.filestore.migrate import read_consistently
from app.domain.filestore.postgres_rows import load_projects, migrated_directories
from app.domain.filestore.reader import project_json, scan_store

logger = structlog.get_logger(__name__)

MAX_PROBLEMS_PER_PROJECT = 25
_BATCH = 50


@dataclass
class ProjectDifference:
    directory: str | None
    project_id: str | None
    problems: list[str]


@dataclass
class VerifyReport:
    data_dir: str
    projects_in_files: int = 0
    projects_in_postgres: int = 0
    projects_equal: int = 0
    positions_checked: int = 0
    audit_results_checked: int = 0
    documents_checked: int = 0
    projects_scalar_checked: int = 0  # every JSON scalar of the files found in the rows
    bytes_hashed: int = 0
    duration_s: float = 0.0
    differences: list[ProjectDifference] = field(default_factory=list)
    born_in_postgres: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def human(self) -> str:
        lines = [
            f"verify {self.data_dir} against PostgreSQL",
            f"  projects   {self.projects_in_files} in files, {self.projects_in_postgres} in PostgreSQL, "
            f"{self.projects_equal} identical",
            f"  checked    {self.positions_checked} positions, {self.audit_results_checked} audit results, "
            f"{self.documents_checked} documents ({self.bytes_hashed} bytes hashed)",
        ]
        if self.born_in_postgres:
            lines.append(f"  {len(self.born_in_postgres)} project(s) born in PostgreSQL (not in the files)")
        for difference in self.differences:
            lines.append(f"  DIFF {difference.directory or '-'} ({difference.project_id or '-'}):")
            lines.extend(f"       {problem}" for problem in difference.problems)
        lines.append("OK: no difference" if self.ok else f"DIFFERENCES in {len(self.differences)} project(s)")
        return "\n".join(lines)


async def verify_store(
    settings: Settings,
    data_dir: Path,
    *,
    mirror_failures: list[str] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Compare every project of ``data_dir`` with PostgreSQL; see the module docstring."""
    started = time.perf_counter()
    report = VerifyReport(data_dir=str(data_dir))
    directories = list(scan_store(data_dir))
    report.projects_in_files = len(directories)
    if on_start is not None:
        on_start(len(directories))
    storage = storage_root(settings.STORAGE_DIR)
    seen: set[uuid.UUID] = set()
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            known = await migrated_directories(conn)
            report.projects_in_postgres = len(known)
            for start in range(0, len(directories), _BATCH):
                batch = directories[start : start + _BATCH]
                from_files: list[tuple[Path, str, LegacyProject]] = []
                for directory in batch:
                    try:
                        digest, project = read_consistently(directory)
                        from_files.append((directory, digest, project))
                    except LegacyProjectError as exc:
                        report.differences.append(
                            ProjectDifference(directory.name, None, [f"cannot be read from files: {exc.reason}"])
                        )
                    except LockTimeout as exc:
                        report.differences.append(ProjectDifference(directory.name, None, [f"busy: {exc}"]))
                stored = await load_projects(conn, [project.id for _, _, project in from_files])
                await conn.rollback()
                for directory, digest, project in from_files:
                    seen.add(project.id)
                    problems = compare_project(directory, digest, project, stored.get(project.id), storage, report)
                    if problems:
                        report.differences.append(ProjectDifference(directory.name, str(project.id), problems))
                    else:
                        report.projects_equal += 1
                if on_progress is not None:
                    on_progress(len(batch))
    finally:
        await engine.dispose()
    for known_id, migrated_from in sorted(known.items(), key=lambda item: str(item[0])):
        if known_id in seen:
            continue
        if migrated_from is not None:
            problem = "in PostgreSQL only: its directory is not in the store"
            report.differences.append(ProjectDifference(migrated_from, str(known_id), [problem]))
        else:
            report.born_in_postgres.append(str(known_id))
            if settings.MIGRATION_MODE == "dual_write":
                problem = "born in PostgreSQL and missing in the files (dual_write)"
                report.differences.append(ProjectDifference(None, str(known_id), [problem]))
    for failed_id in mirror_failures or []:
        problem = "the dual-write mirror failed for this project (see the logs)"
        report.differences.append(ProjectDifference(None, failed_id, [problem]))
    report.duration_s = round(time.perf_counter() - started, 3)
    return report


def compare_project(
    directory: Path,
    digest: str,
    from_files: LegacyProject,
    stored: StoredProject | None,
    storage: Path,
    report: VerifyReport,
) -> list[str]:
    """Every difference between one project's files and its rows (empty: identical).

    The scalar-by-scalar check runs while the directory is exactly as it was migrated (same
    fingerprint): files written later by export or the mirror are derived from the rows anyway.
    """
    if stored is None:
        return ["not in PostgreSQL"]
    from_rows, copies = legacy_project_from_rows(stored)
    report.positions_checked += len(from_files.positions)
    report.audit_results_checked += len(from_files.audit_results)
    problems: list[str] = []
    for label, in_files, in_rows in (
        ("positions", len(from_files.positions), len(from_rows.positions)),
        ("audit results", len(from_files.audit_results), len(from_rows.audit_results)),
        ("documents", len(from_files.files), len(from_rows.files)),
    ):
        if in_files != in_rows:
            problems.append(f"{label}: {in_files} in files, {in_rows} in PostgreSQL")
    problems += json_differences(to_json(from_files), to_json(from_rows))
    migration = (stored.project["metadata"] or {}).get("migration")
    if isinstance(migration, dict) and migration.get("fingerprint") == digest:
        report.projects_scalar_checked += 1
        problems += missing_leaves(directory, stored)
    for copy in copies:
        report.documents_checked += 1
        try:
            size, digest = hash_file(blob_file(storage, copy.storage_path))
        except (OSError, ValueError) as exc:
            problems.append(f"document {copy.relative_path}: stored copy unreadable ({exc})")
            continue
        report.bytes_hashed += size
        if digest != copy.sha256 or size != copy.size:
            problems.append(f"document {copy.relative_path}: stored copy differs (sha256 {digest[:12]}…, {size} B)")
    if len(problems) > MAX_PROBLEMS_PER_PROJECT:
        more = len(problems) - MAX_PROBLEMS_PER_PROJECT
        problems = [*problems[:MAX_PROBLEMS_PER_PROJECT], f"... and {more} more"]
    return problems


def json_differences(in_files: Any, in_rows: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ (type-exact: 1 is not 1.0, "1" is not 1)."""
    if isinstance(in_files, dict) and isinstance(in_rows, dict):
        found: list[str] = []
        for key in sorted(in_files.keys() | in_rows.keys(), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in in_rows:
                found.append(f"{where}: missing in PostgreSQL")
            elif key not in in_files:
                found.append(f"{where}: only in PostgreSQL")
            else:
                found += json_differences(in_files[key], in_rows[key], where)
        return found
    if isinstance(in_files, list) and isinstance(in_rows, list):
        found = []
        for index, (a, b) in enumerate(zip(in_files, in_rows, strict=False)):
            found += json_differences(a, b, f"{path}[{index}]")
        if len(in_files) != len(in_rows):
            found.append(f"{path}: {len(in_files)} items in files, {len(in_rows)} in PostgreSQL")
        return found
    if type(in_files) is not type(in_rows) or in_files != in_rows:
        return [f"{path}: files {_short(in_files)} != PostgreSQL {_short(in_rows)}"]
    return []


def missing_leaves(directory: Path, stored: StoredProject) -> list[str]:
    """Scalars of the project's JSON files that appear nowhere in its rows (columns or metadata)."""
    source: Counter[tuple[str, str]] = Counter()
    for name in (PROJECT_FILE, POSITIONS_FILE, AUDIT_FILE):
        path = directory / name
        if not path.is_file():
            continue
        if name == PROJECT_FILE:  # the document the project was read from (our own copy while in sync)
            source += _leaves(project_json(directory))
            continue
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        doc = msgspec.json.decode(data)
        if name == POSITIONS_FILE and isinstance(doc, dict) and doc.get(SCHEMA_KEY) == POSITIONS_SCHEMA:
            doc = {k: v for k, v in doc.items() if k != SCHEMA_KEY}
        source += _leaves(doc)
    if not source:
        return []
    in_rows = _leaves(to_json([stored.project, stored.positions, stored.audit_results]))
    missing = [leaf for leaf, count in source.items() if in_rows[leaf] < count]
    return [f"JSON value {kind} {text[:60]} of the files is not in PostgreSQL" for kind, text in missing[:10]]


def _leaves(value: Any) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            found[(type(item).__name__, repr(item))] += 1
    return found


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
