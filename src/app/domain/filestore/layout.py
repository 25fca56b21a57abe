"""The on-disk layout of a project directory, shared by the reader and the writer.

``data/projects/{id}/``: project.json, positions.json, audit_results.json, raw/{file_type}/…,
processed/, artifacts/. project.json is written in the old application's own shape; our full copy of
it (every field and metadata key, exactly) sits beside it in concrete_agent.json, with the sha256 of
the project.json it was written with (a project.json the old app changed since is read instead).
Files written by the new code carry a ``schema`` marker so the reader can tell them from the old
app's files and read them back exactly. audit_results.json stays a plain list (the old app's own
shape); its entries are recognised by having exactly the LegacyAuditResult keys.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from app.domain.filestore.legacy import FileArea, LegacyProject

PROJECT_FILE = "project.json"
POSITIONS_FILE = "positions.json"
AUDIT_FILE = "audit_results.json"
SIDE_FILE = "concrete_agent.json"
LOCK_FILE = ".lock"
JSON_FILES = frozenset({PROJECT_FILE, POSITIONS_FILE, AUDIT_FILE, SIDE_FILE})

_AREAS: dict[str, FileArea] = {"raw": "raw", "processed": "processed", "artifacts": "artifacts"}

SCHEMA_KEY = "schema"
POSITIONS_SCHEMA = "concrete-agent/positions@1"
SIDE_SCHEMA = "concrete-agent/project@1"
SIDE_DIGEST_KEY = "project_json_sha256"
# raw/{file_type}/ sub-folders of the old application (the user picked one per upload).
RAW_FOLDERS = ("vykaz_vymer", "vykresy", "dokumentace")

# Canonical project.json keys, in the order the writer emits them.
PROJECT_KEYS = (
    "id",
    "legacy_id",
    "name",
    "description",
    "workflow",
    "status",
    "owner_id",
    "owner_email",
    "created_at",
    "updated_at",
)

# Temp files of atomic writes: ".{name}.{16 hex}.tmp" next to the target.
TEMP_FILE = re.compile(r"\..+\.[0-9a-f]{16}\.tmp")


def project_head(project: LegacyProject) -> dict[str, Any]:
    """The canonical keys of project.json for ``project``, as JSON values (UUID/datetime → str)."""
    head = {key: getattr(project, key) for key in PROJECT_KEYS}
    for key in ("created_at", "updated_at"):
        head[key] = as_utc(head[key])
    result: dict[str, Any] = msgspec.to_builtins(head)
    return result


def area_of(relative_path: str) -> FileArea:
    """raw / processed / artifacts by the first path component; anything else is "other"."""
    return _AREAS.get(relative_path.split("/", 1)[0], "other")


def is_store_internal(relative_path: str) -> bool:
    """Files of the store machinery, not of the project: the lock and temp files of writes."""
    if relative_path == LOCK_FILE:
        return True
    return bool(TEMP_FILE.fullmatch(relative_path.rsplit("/", 1)[-1]))


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} (timestamps must be timezone-aware)")
    return moment.astimezone(UTC)
