"""project.json as the old application wrote and reads it (what a rollback hands back to it).

A migrated project keeps the keys its project.json had (``project_id``, ``project_name``,
``workflow: "A"``, ``user: {...}``, timestamps as it wrote them, ``files[]`` and every other key); a
value is written back exactly as it was while it still means the same, else the new value in the
same style. A project born in PostgreSQL gets the old application's shape: ``project_id``,
``project_name``, ``workflow`` "A"/"B", ``status``, ``user``, ``created_at``, ``updated_at`` and
``files[]`` naming each document under ``raw/{file_type}/``. Our own data (the UUID, owner e-mail,
our metadata, the reader's bookkeeping) is kept beside it in concrete_agent.json (see ``layout``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import msgspec

from app.domain.filestore.layout import RAW_FOLDERS, as_utc
from app.domain.filestore.legacy import (
    META_AUDIT_FILE,
    META_DIRECTORY,
    META_LEGACY_FIELDS,
    META_POSITIONS_FILE,
    META_WARNINGS,
    LegacyFile,
    LegacyProject,
)
from app.domain.filestore.normalize import map_status, map_workflow, parse_datetime
from app.domain.filestore.reader import PROJECT_FIELD_KEYS

OLD_WORKFLOW = {"workflow_a": "A", "workflow_b": "B"}
FILES_KEY = "files"
# Metadata keys that are the reader's bookkeeping, never the old application's.
_OWN_KEYS = frozenset({META_LEGACY_FIELDS, META_WARNINGS, META_POSITIONS_FILE, META_AUDIT_FILE, META_DIRECTORY})


def legacy_document(project: LegacyProject) -> dict[str, Any]:
    """project.json for the old application (see the module docstring)."""
    original = project.metadata.get(META_LEGACY_FIELDS)
    original = original if isinstance(original, dict) else {}
    migrated = bool(original) or project.legacy_id != str(project.id)
    doc: dict[str, Any] = {}

    def put(field_name: str, value: Any, default_key: str | None, same: Callable[[Any], bool]) -> None:
        key = next((k for k in PROJECT_FIELD_KEYS[field_name] if k in original), None)
        if key is not None:
            doc[key] = original[key] if same(original[key]) else _styled(original[key], value)
        elif value is not None and default_key is not None:
            doc[default_key] = value

    put("legacy_id", project.legacy_id, "project_id", lambda raw: _text(raw) == project.legacy_id)
    put("name", project.name, "project_name", lambda raw: _text(raw) == project.name)
    put("description", project.description, "description", lambda raw: raw == project.description)
    workflow = OLD_WORKFLOW.get(project.workflow) if project.workflow else None
    put("workflow", workflow, "workflow", lambda raw: map_workflow(raw) == project.workflow)
    put("status", project.status, "status", lambda raw: map_status(raw) == project.status)
    owner_key = next((k for k in PROJECT_FIELD_KEYS["owner"] if k in original), None)
    if owner_key is not None or not migrated:
        doc[owner_key or "user"] = _owner(original.get(owner_key), project)
    else:
        put("owner_id", project.owner_id, "owner_id", lambda raw: _text(raw) == project.owner_id)
        put("owner_email", project.owner_email, "owner_email", lambda raw: _text(raw) == project.owner_email)
    for name in ("created_at", "updated_at"):
        moment: datetime | None = getattr(project, name)
        put(name, _iso(moment), name, lambda raw, moment=moment: _same_moment(raw, moment))  # type: ignore[misc]
    if migrated:
        doc.update({k: v for k, v in project.metadata.items() if k not in _OWN_KEYS and k not in doc})
    doc[FILES_KEY] = _files_list(doc.get(FILES_KEY), project.files)
    return doc


def raw_folder(file_type: str | None) -> str:
    """The old application's raw/ sub-folder for a document uploaded to the new one (by its type)."""
    if file_type in RAW_FOLDERS:
        return str(file_type)
    if file_type in ("xml", "xlsx", "xls", "csv"):
        return "vykaz_vymer"  # budgets, bills of quantities
    if file_type == "pdf":
        return "vykresy"  # drawings (a PDF budget is still read as one: the content decides)
    return "dokumentace"


def _files_list(existing: Any, files: list[LegacyFile]) -> list[Any]:
    """The old app's files[]: its own entries kept as they are, one added per new upload under raw/."""
    entries: list[Any] = list(existing) if isinstance(existing, list) else []
    listed_ids = {e.get("file_id") for e in entries if isinstance(e, dict)}
    listed_names = {(e.get("file_type"), e.get("filename")) for e in entries if isinstance(e, dict)}
    for file in files:
        parts = PurePosixPath(file.relative_path).parts
        if len(parts) < 3 or parts[0] != "raw" or parts[1] not in RAW_FOLDERS:
            continue
        if file.legacy_file_id in listed_ids or (parts[1], parts[-1]) in listed_names:
            continue
        entries.append(
            {
                "file_id": file.legacy_file_id or f"doc_{file.sha256[:12]}",
                "filename": parts[-1],
                "file_type": parts[1],
                "size": file.size,
                "uploaded_at": _iso(file.mtime),
            }
        )
    return entries


def _owner(raw: Any, project: LegacyProject) -> Any:
    """The owner object ({"id", "email", ...}): the old one while it names the same owner."""
    if isinstance(raw, dict):
        same_id = project.owner_id is None or _text(raw.get("id")) == project.owner_id
        same_email = project.owner_email is None or raw.get("email") == project.owner_email
        if same_id and same_email:
            return raw
        return {**raw, "id": project.owner_id, "email": project.owner_email}
    if raw is not None and _text(raw) in (project.owner_id, project.owner_email):
        return raw
    return {"id": project.owner_id, "email": project.owner_email}


def _styled(raw: Any, value: Any) -> Any:
    """``value`` in the style of the old ``raw`` value (an epoch stays an epoch, a letter a letter)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and isinstance(value, str):
        moment = parse_datetime(value)
        if moment is not None:
            return int(moment.timestamp() * (1000 if raw > 10**11 else 1))
    if isinstance(raw, str) and isinstance(value, str) and len(raw) == 1 and value in OLD_WORKFLOW.values():
        return value
    return value


def _same_moment(raw: Any, moment: datetime | None) -> bool:
    try:
        return parse_datetime(raw) == moment
    except ValueError:
        return False


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _iso(moment: datetime | None) -> str | None:
    text: str | None = msgspec.to_builtins(as_utc(moment)) if moment is not None else None
    return text
