"""Writing a project in the old store's layout: the inverse of the reader.

Used for dual-write (PostgreSQL is the truth, the files follow) and by ``app export-files`` to
rebuild the whole store for a rollback. Every file is written atomically, under the project lock;
project.json goes last, so a project.json on disk always comes with its positions and documents.
project.json is the old application's shape (``legacy_document``); our exact copy goes first into
concrete_agent.json, naming the sha256 of the project.json it belongs to.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path, PurePosixPath
from typing import Any

from app.domain.filestore.atomic import (
    atomic_copy_file,
    atomic_write_bytes,
    atomic_write_json,
    encode_json,
    project_lock,
)
from app.domain.filestore.ids import stable_uuid
from app.domain.filestore.layout import (
    AUDIT_FILE,
    JSON_FILES,
    POSITIONS_FILE,
    POSITIONS_SCHEMA,
    PROJECT_FILE,
    SCHEMA_KEY,
    SIDE_DIGEST_KEY,
    SIDE_FILE,
    SIDE_SCHEMA,
    is_store_internal,
    project_head,
)
from app.domain.filestore.legacy import LegacyProject
from app.domain.filestore.legacy_document import legacy_document


def write_project(
    data_dir: Path,
    project: LegacyProject,
    files: Iterable[tuple[str, Path]] = (),
    *,
    lock: bool = True,
) -> Path:
    """Write ``project`` to ``data_dir/{project.directory}`` and return that directory.

    ``files`` are (relative path in the project directory, source file) pairs, e.g.
    ``("raw/vykresy/A-101.pdf", blob_path)``; a target that already has the source's size and
    modification time is left alone, so repeated dual-writes copy only new documents. Files not
    named are never deleted. ``lock=False`` when the caller already holds ``project_lock``.
    From asyncio: ``await asyncio.to_thread(write_project, ...)``.
    """
    project_dir = data_dir / _checked_directory(project.directory)
    document = project_document(project)
    copies = [(_checked_relative(relative), Path(source)) for relative, source in files]
    guard: AbstractContextManager[object] = project_lock(project_dir) if lock else nullcontext()
    with guard:
        for relative, source in copies:
            target = project_dir / relative
            if not _unchanged(source, target):
                atomic_copy_file(source, target)
        atomic_write_json(project_dir / POSITIONS_FILE, {SCHEMA_KEY: POSITIONS_SCHEMA, "positions": project.positions})
        atomic_write_json(project_dir / AUDIT_FILE, project.audit_results)
        for_old_app = encode_json(legacy_document(project))
        own_copy = {
            SCHEMA_KEY: SIDE_SCHEMA,
            SIDE_DIGEST_KEY: hashlib.sha256(for_old_app).hexdigest(),
            "project": document,
        }
        atomic_write_json(project_dir / SIDE_FILE, own_copy)
        atomic_write_bytes(project_dir / PROJECT_FILE, for_old_app)
    return project_dir


def project_document(project: LegacyProject) -> dict[str, Any]:
    """Our copy of project.json: the canonical keys, then every metadata key verbatim (read back exactly)."""
    expected = stable_uuid("project", project.legacy_id)
    if project.id != expected:
        raise ValueError(
            f"project id {project.id} does not derive from legacy id {project.legacy_id!r} "
            f"(expected {expected}); reading the files back would give another id"
        )
    head = project_head(project)
    clash = sorted(head.keys() & project.metadata.keys())
    if clash:
        raise ValueError(f"metadata keys {clash} would overwrite project.json's own keys")
    return {**head, **project.metadata}


def _checked_directory(name: str) -> str:
    if not name or name in {".", ".."} or name.startswith(".") or "/" in name or "\0" in name:
        raise ValueError(f"unusable project directory name {name!r}")
    return name


def _checked_relative(relative: str) -> str:
    """A relative POSIX path inside the project directory, not one of the store's own files."""
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or any(part in {"", ".", ".."} for part in relative.split("/")):
        raise ValueError(f"document path {relative!r} must be a plain relative path (no '..', no '/…')")
    if "\0" in relative or str(path) in JSON_FILES or is_store_internal(str(path)):
        raise ValueError(f"document path {relative!r} would overwrite a file of the store itself")
    return str(path)


def _unchanged(source: Path, target: Path) -> bool:
    """The target already holds the source: the same file, or same size and modification time."""
    try:
        if os.path.samefile(source, target):
            return True
        src, dst = source.stat(), target.stat()
    except FileNotFoundError:
        return False
    return src.st_size == dst.st_size and src.st_mtime_ns == dst.st_mtime_ns
