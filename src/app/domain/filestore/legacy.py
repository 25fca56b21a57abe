"""What one project of the old file store holds, normalised: the structs the reader returns and
the writer takes (also built from PostgreSQL rows for dual-write and ``app export-files``).

Nothing is dropped: fields with a column are typed, everything else stays verbatim in ``metadata``
(project), ``PositionRecord.metadata["legacy"]`` (positions) or ``raw`` (audit results).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from app.domain.budgets.records import PositionRecord

Workflow = Literal["workflow_a", "workflow_b"]
ProjectStatus = Literal["draft", "parsing", "enriching", "auditing", "completed", "failed"]
FileArea = Literal["raw", "processed", "artifacts", "other"]
Verdict = Literal["GREEN", "AMBER", "RED"]

# Keys the reader adds to LegacyProject.metadata (all other keys are the project.json's own).
META_LEGACY_FIELDS = "legacy_fields"  # original {key: value} of mapped keys the writer would not reproduce
META_WARNINGS = "legacy_warnings"  # values that could not be read (the raw value is kept elsewhere)
META_POSITIONS_FILE = "legacy_positions_file"  # extra top-level keys of a {"positions": [...]} file
META_AUDIT_FILE = "legacy_audit_file"  # extra top-level keys of a {"results": [...]} audit file
META_DIRECTORY = "legacy_directory"  # the project directory's name, only when it is not legacy_id
# Key of PositionRecord.metadata holding the position's original dict.
POSITION_LEGACY_KEY = "legacy"


class LegacyFile(msgspec.Struct, kw_only=True, frozen=True):
    """One file of a project directory (other than project/positions/audit_results.json)."""

    relative_path: str  # POSIX path inside the project directory, as on disk: "raw/vykresy/A-101.pdf"
    area: FileArea
    file_type: str | None  # raw/ sub-folder (vykaz_vymer, vykresy, dokumentace) or project.json files[]
    size: int
    sha256: str  # hex digest
    mtime: datetime  # UTC, microsecond precision
    legacy_file_id: str | None = None  # file_id of the matching project.json files[] entry


class LegacyAuditResult(msgspec.Struct, kw_only=True):
    """One verdict of one expert on one position, as the old app stored it."""

    position_ref: str | None  # how the old file named the position: its id, code or number
    expert: str | None  # validator, standards, concrete, cost, structural, orchestrator ... (lower case)
    status: Verdict | None
    confidence: float | None = None
    reasoning: str | None = None
    evidence: Any = None
    issues: list[dict[str, Any]] = msgspec.field(default_factory=list)
    raw: dict[str, Any] = msgspec.field(default_factory=dict)  # the original entry, verbatim


class LegacyProject(msgspec.Struct, kw_only=True):
    """A project of the old store: project.json normalised, its positions, audit results and files."""

    id: uuid.UUID  # stable_uuid("project", legacy_id)
    legacy_id: str  # the old app's id; for a project born in PostgreSQL: str(id)
    name: str
    description: str | None = None
    workflow: Workflow | None = None
    status: ProjectStatus = "draft"
    owner_id: str | None = None
    owner_email: str | None = None
    created_at: datetime | None = None  # timezone-aware UTC
    updated_at: datetime | None = None  # timezone-aware UTC
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    positions: list[PositionRecord] = msgspec.field(default_factory=list)
    audit_results: list[LegacyAuditResult] = msgspec.field(default_factory=list)
    files: list[LegacyFile] = msgspec.field(default_factory=list)

    @property
    def directory(self) -> str:
        """Name of the project's directory in the store (the legacy id unless the old app differed)."""
        name = self.metadata.get(META_DIRECTORY)
        return name if isinstance(name, str) and name else self.legacy_id

    @property
    def warnings(self) -> list[str]:
        """Values the reader could not interpret (their raw form is kept in metadata)."""
        found = self.metadata.get(META_WARNINGS)
        return [str(w) for w in found] if isinstance(found, list) else []


class LegacyProjectError(Exception):
    """A project directory that cannot be read as a whole; the migration skips it and goes on."""

    def __init__(self, project_dir: Path, reason: str) -> None:
        super().__init__(f"{project_dir}: {reason}")
        self.project_dir = project_dir
        self.reason = reason
