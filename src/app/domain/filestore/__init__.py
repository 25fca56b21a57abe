"""The old file store (``data/projects/{id}/``): read it for the migration, write it for dual-write
and rollback. Pure file code, no database."""

from app.domain.filestore.atomic import (
    LockTimeout,
    async_project_lock,
    atomic_copy_file,
    atomic_write_bytes,
    atomic_write_json,
    project_lock,
)
from app.domain.filestore.ids import LEGACY_NAMESPACE, stable_uuid
from app.domain.filestore.legacy import (
    FileArea,
    LegacyAuditResult,
    LegacyFile,
    LegacyProject,
    LegacyProjectError,
    ProjectStatus,
    Verdict,
    Workflow,
)
from app.domain.filestore.reader import fingerprint, position_refs, read_project, scan_store
from app.domain.filestore.writer import project_document, write_project

__all__ = [
    "LEGACY_NAMESPACE",
    "FileArea",
    "LegacyAuditResult",
    "LegacyFile",
    "LegacyProject",
    "LegacyProjectError",
    "LockTimeout",
    "ProjectStatus",
    "Verdict",
    "Workflow",
    "async_project_lock",
    "atomic_copy_file",
    "atomic_write_bytes",
    "atomic_write_json",
    "fingerprint",
    "position_refs",
    "project_document",
    "project_lock",
    "read_project",
    "scan_store",
    "stable_uuid",
    "write_project",
]
