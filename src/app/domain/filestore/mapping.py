"""PostgreSQL rows ⇄ ``LegacyProject``: the one place that decides where every JSON field lands.

The migration turns a project of the old store into rows (columns + ``metadata``); export, verify
and the dual-write mirror turn rows back into a ``LegacyProject``. Each field that has a column is
compared with what the migration derived for it: unchanged, the exact legacy value comes back from
``metadata``; changed in PostgreSQL since, the column wins. So a migrated project exports to files
that read back equal to the original, and edits made in PostgreSQL still reach the files.

Pure code: no database, no files. Rows are dicts keyed by column name (``metadata`` for the
``metadata_`` attribute), values as asyncpg and SQLAlchemy hand them over.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec

from app.domain.budgets.records import PositionRecord
from app.domain.filestore.ids import stable_uuid
from app.domain.filestore.layout import JSON_FILES, PROJECT_KEYS, area_of, is_store_internal
from app.domain.filestore.legacy import (
    POSITION_LEGACY_KEY,
    LegacyAuditResult,
    LegacyFile,
    LegacyProject,
    Verdict,
)
from app.domain.filestore.legacy_document import raw_folder
from app.domain.filestore.reader import position_refs
from app.domain.projects.services import KEPT_METADATA_KEYS

MIGRATION_SOURCE = "migrated"
MIGRATION_TOOL = "app migrate-files"

# Keys of projects.metadata written by the migration (every other key is the application's own).
PROJECT_META_LEGACY_ID = "legacy_id"
PROJECT_META_LEGACY = "legacy"  # what a re-export needs and no column holds
PROJECT_META_MIGRATION = "migration"  # fingerprint, directory, time of the last import
PROJECT_RESERVED = KEPT_METADATA_KEYS  # a PATCH of `metadata` keeps them (the projects domain's rule)
assert {PROJECT_META_LEGACY_ID, PROJECT_META_LEGACY, PROJECT_META_MIGRATION} == PROJECT_RESERVED
# Keys of positions.metadata written by the migration; the record's own metadata sits beside them.
POSITION_META_LEGACY_ID = "legacy_id"
POSITION_META_INDEX = "legacy_index"
POSITION_META_RECORD = "record"
POSITION_RESERVED = frozenset({POSITION_META_LEGACY_ID, POSITION_META_INDEX, POSITION_META_RECORD})
# Keys of audit_results.metadata / project_documents.metadata written by the migration.
AUDIT_META_INDEX = "legacy_index"
AUDIT_META_RESULT = "result"
SOURCE_KEY = "source"

_POSITION_ID_KEYS = ("id", "position_id", "pos_id", "uuid", "item_id")  # as reader.position_refs
_VERDICT_RANK: dict[str, int] = {"GREEN": 0, "AMBER": 1, "RED": 2}
_CENT = Decimal("0.01")
_INT32_MAX = 2**31 - 1
_EXPERT_ROLE_MAX = 50


# ---------------------------------------------------------------------------------------------
# Stable ids of the rows one legacy project becomes


def version_id_for(legacy_project_id: str) -> uuid.UUID:
    return stable_uuid("budget_version", f"{legacy_project_id}#1")


def document_id_for(legacy_project_id: str, relative_path: str) -> uuid.UUID:
    return stable_uuid("document", f"{legacy_project_id}/{relative_path}")


def owner_id_for(email: str) -> uuid.UUID:
    """The id of a user the migration creates for an owner e-mail (normalised)."""
    return stable_uuid("user", email.strip().lower())


def position_keys(legacy_project_id: str, positions: Sequence[PositionRecord]) -> list[tuple[str, str | None]]:
    """(stable key, legacy position id) per position: by the old id when it is unique in the
    project, else by its index (a file without ids, or ids repeated)."""
    own_ids = [_legacy_position_id(p) for p in positions]
    counts = Counter(i for i in own_ids if i is not None)
    keys: list[tuple[str, str | None]] = []
    for index, own in enumerate(own_ids):
        if own is not None and counts[own] == 1:
            keys.append((f"{legacy_project_id}/id:{own}", own))
        else:
            keys.append((f"{legacy_project_id}/#{index}", own))
    return keys


def _legacy_position_id(position: PositionRecord) -> str | None:
    raw = position.metadata.get(POSITION_LEGACY_KEY)
    if not isinstance(raw, dict):
        return None
    for key in _POSITION_ID_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


# ---------------------------------------------------------------------------------------------
# Values that fit the columns


def fit_decimal(value: Decimal | None, places: int, integer_digits: int) -> Decimal | None:
    """``value`` rounded (half up) to ``places``, or None when it cannot fit NUMERIC(p, places)."""
    if value is None or not value.is_finite():
        return None
    try:
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return rounded if abs(rounded) < Decimal(10) ** integer_digits else None


def fit_text(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


def line_total(position: PositionRecord) -> Decimal | None:
    """The position's total in CZK rounded to hellers: its own total, else quantity × unit price."""
    total = position.total_price
    if total is None and position.quantity is not None and position.unit_price is not None:
        total = position.quantity * position.unit_price
    return fit_decimal(total, 2, 13)


def position_columns(position: PositionRecord) -> dict[str, Any]:
    """The columns of ``positions`` the migration derives from a record (the rest is metadata)."""
    source_line = position.source_line
    return {
        "position_number": fit_text(position.position_number, 50),
        "code": fit_text(position.code, 100),
        "description": position.description,
        "category": fit_text(position.category, 255),
        "unit": fit_text(position.unit, 20),
        "quantity": fit_decimal(position.quantity, 4, 11),
        "unit_price": fit_decimal(position.unit_price, 2, 13),
        "total_price": line_total(position),
        "source_line": source_line if source_line is not None and 0 <= source_line <= _INT32_MAX else None,
    }


def audit_confidence(confidence: float | None) -> Decimal:
    """Legacy confidence (0-1, sometimes already a percentage) as the column's 0-100 value."""
    if confidence is None:
        return Decimal(0)
    try:
        number = Decimal(repr(float(confidence)))
    except (InvalidOperation, ValueError, OverflowError):
        return Decimal(0)
    if not number.is_finite() or number < 0 or number > 100:
        return Decimal(0)
    percent = number * 100 if number <= 1 else number
    return fit_decimal(percent, 2, 3) or Decimal(0)


def audit_columns(result: LegacyAuditResult) -> dict[str, Any]:
    """The columns of ``audit_results`` the migration derives from a legacy result."""
    return {
        "expert_role": result.expert,
        "recommendation": result.status,
        "confidence": audit_confidence(result.confidence),
        "reasoning": result.reasoning,
        "evidence": _evidence_column(result.evidence),
        "issues": to_json(result.issues),
    }


def _evidence_column(evidence: Any) -> dict[str, Any]:
    """The evidence column is an object: other JSON values are wrapped, nothing is dropped."""
    if evidence is None:
        return {}
    value = to_json(evidence)
    return value if isinstance(value, dict) else {"legacy": value}


def project_columns(project: LegacyProject, fallback_time: datetime) -> dict[str, Any]:
    """The columns of ``projects`` the migration derives (owner and totals are set separately)."""
    created = project.created_at or project.updated_at or fallback_time
    return {
        "name": fit_text(project.name, 500),
        "description": project.description,
        "workflow": project.workflow or "workflow_a",
        "status": project.status,
        "created_at": created,
        "updated_at": project.updated_at or created,
    }


def to_json(value: Any) -> Any:
    """A JSON-ready copy (Decimal → "1.50", datetime → ISO, UUID → text), as JSONB gives it back."""
    return msgspec.to_builtins(value)


def json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


# ---------------------------------------------------------------------------------------------
# LegacyProject → rows


@dataclass(frozen=True, slots=True)
class BlobCopy:
    """One document's bytes to copy into the storage before the project's rows commit."""

    relative_path: str  # in the project directory of the old store
    storage_path: str  # absolute, inside settings.STORAGE_DIR (as the documents service stores uploads)
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class UnplacedAudit:
    """An audit result that cannot be a row (its position is unknown, ...): kept in project metadata."""

    index: int
    reason: str
    result: LegacyAuditResult


@dataclass
class ProjectRows:
    """Everything one legacy project becomes in PostgreSQL."""

    project: dict[str, Any]
    version: dict[str, Any] | None
    positions: list[dict[str, Any]]
    audit_results: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    blobs: list[BlobCopy]
    unplaced: list[UnplacedAudit] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(doc["file_size"] for doc in self.documents)


def blob_storage_path(storage_root: Path, project_id: uuid.UUID, sha256: str) -> str:
    """Where a migrated document's bytes live: ``STORAGE_DIR/projects/{id}/legacy/…``, absolute like
    the documents service's uploads, content-addressed per project (a re-copy is harmless, and
    deleting the project's storage directory deletes them)."""
    return str(storage_root / "projects" / str(project_id) / "legacy" / sha256[:2] / sha256)


def project_rows(
    project: LegacyProject,
    *,
    owner_id: uuid.UUID,
    storage_root: Path,
    fallback_time: datetime,
    fingerprint: str | None,
    data_dir: str,
    migrated_at: datetime,
) -> ProjectRows:
    """The rows of one project: project, budget version 1, positions, audit results, documents.

    ``fallback_time`` (the project.json's modification time) stands in for missing timestamps so
    that the same files always give the same rows.
    """
    legacy_id = project.legacy_id
    head = project_columns(project, fallback_time)
    created_at: datetime = head["created_at"]
    version_id = version_id_for(legacy_id)
    keys = position_keys(legacy_id, project.positions)
    positions: list[dict[str, Any]] = []
    for index, (record, (key, own_id)) in enumerate(zip(project.positions, keys, strict=True)):
        columns = position_columns(record)
        record_fields = to_json(record)
        record_fields.pop("metadata", None)
        positions.append(
            {
                "id": stable_uuid("position", key),
                "project_id": project.id,
                "version_id": version_id,
                "lineage_id": stable_uuid("position_lineage", key),
                **columns,
                "status": None,
                "confidence": None,
                "source": MIGRATION_SOURCE,
                "source_document_id": None,
                "enrichment": {},
                "metadata": {
                    **to_json(record.metadata),
                    POSITION_META_LEGACY_ID: own_id,
                    POSITION_META_INDEX: index,
                    POSITION_META_RECORD: record_fields,
                },
                "notes": None,
                "created_at": created_at,
                "updated_at": created_at,
            }
        )

    audits, unplaced = _audit_rows(project, positions, keys, version_id, created_at)
    _apply_verdicts(positions, audits)

    totals = [p["total_price"] for p in positions if p["total_price"] is not None]
    total_cost = sum(totals, Decimal("0.00"))
    by_status = Counter(p["status"] for p in positions)
    version: dict[str, Any] | None = None
    if positions:
        version = {
            "id": version_id,
            "project_id": project.id,
            "version": 1,
            "trigger_type": "initial",
            "trigger_details": {"source": MIGRATION_SOURCE, "tool": MIGRATION_TOOL, "legacy_id": legacy_id},
            "total_positions": len(positions),
            "total_cost": total_cost,
            "delta_cost": total_cost,
            "changes": {
                "added": [
                    {
                        "lineage_id": str(p["lineage_id"]),
                        "position_number": p["position_number"],
                        "code": p["code"],
                        "description": p["description"],
                        "total_price": None if p["total_price"] is None else str(p["total_price"]),
                    }
                    for p in positions
                ],
                "removed": [],
                "modified": [],
            },
            "created_by": owner_id,
            "created_at": head["created_at"],
        }
    documents, blobs = _document_rows(project, storage_root, head["created_at"])
    legacy_head = to_json({key: getattr(project, key) for key in PROJECT_KEYS if key not in ("id", "legacy_id")})
    project_row = {
        "id": project.id,
        "user_id": owner_id,
        **head,
        "progress": Decimal(100) if project.status == "completed" else Decimal(0),
        "current_version": 1 if version else 0,
        "total_positions": len(positions),
        "total_cost": total_cost,
        "issues_count_red": by_status["RED"],
        "issues_count_amber": by_status["AMBER"],
        "issues_count_green": by_status["GREEN"],
        "completed_at": head["updated_at"] if project.status == "completed" else None,
        "metadata": {
            PROJECT_META_LEGACY_ID: legacy_id,
            PROJECT_META_LEGACY: {
                "head": legacy_head,
                "columns": to_json({**head, "owner_id": owner_id}),
                "metadata": to_json(project.metadata),
                "unplaced_audit_results": [
                    {"index": u.index, "reason": u.reason, "result": to_json(u.result)} for u in unplaced
                ],
            },
            PROJECT_META_MIGRATION: {
                "tool": MIGRATION_TOOL,
                "directory": project.directory,
                "data_dir": data_dir,
                "fingerprint": fingerprint,
                "migrated_at": to_json(migrated_at),
            },
        },
    }
    return ProjectRows(project_row, version, positions, audits, documents, blobs, unplaced)


def _audit_rows(
    project: LegacyProject,
    positions: list[dict[str, Any]],
    keys: list[tuple[str, str | None]],
    version_id: uuid.UUID,
    created_at: datetime,
) -> tuple[list[dict[str, Any]], list[UnplacedAudit]]:
    refs = position_refs(project.positions)
    rows: list[dict[str, Any]] = []
    unplaced: list[UnplacedAudit] = []
    taken: set[tuple[int, str]] = set()
    for index, result in enumerate(project.audit_results):
        target = refs.get(result.position_ref) if result.position_ref is not None else None
        reason = None
        if target is None:
            reason = f"position {result.position_ref!r} not found"
        elif not result.expert:
            reason = "no expert named"
        elif len(result.expert) > _EXPERT_ROLE_MAX:
            reason = f"expert name longer than {_EXPERT_ROLE_MAX} characters"
        elif result.status is None:
            reason = "verdict not understood"
        elif (target, result.expert) in taken:
            reason = f"a second verdict of {result.expert!r} on the same position"
        if reason is not None or target is None or result.expert is None:
            unplaced.append(UnplacedAudit(index, reason or "unplaced", result))
            continue
        taken.add((target, result.expert))
        position = positions[target]
        rows.append(
            {
                "id": stable_uuid("audit_result", f"{keys[target][0]}/{result.expert}"),
                "project_id": project.id,
                "version_id": version_id,
                "position_id": position["id"],
                **audit_columns(result),
                "suggestions": [],
                "conflicts_with": [],
                "resolution": None,
                "metadata": {
                    SOURCE_KEY: MIGRATION_SOURCE,
                    "legacy_id": f"{result.position_ref}/{result.expert}",
                    AUDIT_META_INDEX: index,
                    AUDIT_META_RESULT: to_json(result),
                },
                "created_at": created_at,
            }
        )
    return rows, unplaced


def _apply_verdicts(positions: list[dict[str, Any]], audits: list[dict[str, Any]]) -> None:
    """A position's status: the orchestrator's verdict, else the worst verdict of its experts."""
    by_position: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for audit in audits:
        by_position.setdefault(audit["position_id"], []).append(audit)
    for position in positions:
        verdicts = by_position.get(position["id"])
        if not verdicts:
            continue
        final = next((a for a in verdicts if a["expert_role"] == "orchestrator"), None)
        if final is not None:
            position["status"] = final["recommendation"]
            position["confidence"] = final["confidence"]
        else:
            position["status"] = max((a["recommendation"] for a in verdicts), key=_VERDICT_RANK.__getitem__)


def _document_rows(
    project: LegacyProject, storage_root: Path, created_at: datetime
) -> tuple[list[dict[str, Any]], list[BlobCopy]]:
    documents: list[dict[str, Any]] = []
    blobs: list[BlobCopy] = []
    for legacy_file in project.files:
        storage_path = blob_storage_path(storage_root, project.id, legacy_file.sha256)
        filename = legacy_file.relative_path.rsplit("/", 1)[-1]
        documents.append(
            {
                "id": document_id_for(project.legacy_id, legacy_file.relative_path),
                "project_id": project.id,
                "uploaded_by": None,
                "filename": filename[:500],
                "original_filename": legacy_file.relative_path[:500],
                "file_type": (legacy_file.file_type or legacy_file.area)[:50],
                "mime_type": (mimetypes.guess_type(filename)[0] or "application/octet-stream")[:100],
                "file_size": legacy_file.size,
                "content_hash": legacy_file.sha256,
                "storage_path": storage_path,
                "parse_status": "skipped",
                "parse_error": None,
                "parsed_at": None,
                "extracted_data": {},
                "indexed_content": None,
                "metadata": {
                    SOURCE_KEY: MIGRATION_SOURCE,
                    "legacy_id": legacy_file.legacy_file_id,
                    "legacy_project_id": project.legacy_id,
                    "area": legacy_file.area,
                    "relative_path": legacy_file.relative_path,
                    "legacy_file_type": legacy_file.file_type,
                    "mtime": to_json(legacy_file.mtime),
                },
                "uploaded_at": created_at,
                "created_at": created_at,
                "updated_at": created_at,
            }
        )
        blobs.append(BlobCopy(legacy_file.relative_path, storage_path, legacy_file.sha256, legacy_file.size))
    return documents, blobs


# ---------------------------------------------------------------------------------------------
# Rows → LegacyProject


@dataclass(frozen=True, slots=True)
class DocumentCopy:
    """A document to write into a project directory of the store from the storage."""

    relative_path: str
    storage_path: str
    size: int
    sha256: str
    mtime: datetime


@dataclass
class StoredProject:
    """The rows of one project as loaded from PostgreSQL (the latest budget version only)."""

    project: dict[str, Any]
    owner_email: str | None
    positions: list[dict[str, Any]]
    audit_results: list[dict[str, Any]]
    documents: list[dict[str, Any]]


def legacy_project_from_rows(stored: StoredProject) -> tuple[LegacyProject, list[DocumentCopy]]:
    """The project as the file store holds it, and the documents to copy there."""
    row = stored.project
    metadata: dict[str, Any] = row["metadata"] or {}
    legacy = metadata.get(PROJECT_META_LEGACY)
    legacy = legacy if isinstance(legacy, dict) else {}
    legacy_id = _project_legacy_id(row["id"], metadata.get(PROJECT_META_LEGACY_ID))
    head: dict[str, Any] = dict(legacy.get("head") or {})
    columns: dict[str, Any] = legacy.get("columns") or {}

    def pick(field_name: str, column_value: Any) -> Any:
        """The legacy value while the column still holds what the migration put there."""
        if field_name in head and field_name in columns and columns[field_name] == to_json(column_value):
            return head[field_name]
        return to_json(column_value)

    owner_unchanged = "owner_id" in columns and columns["owner_id"] == to_json(row["user_id"])
    extra_metadata = {k: v for k, v in metadata.items() if k not in PROJECT_RESERVED}
    project_metadata = {**(legacy.get("metadata") or {}), **extra_metadata}
    clashes = {k: project_metadata.pop(k) for k in list(project_metadata) if k in PROJECT_KEYS}
    if clashes:
        project_metadata["postgres_metadata"] = clashes
    positions = _positions_from_rows(legacy_id, stored.positions)
    audit_results = _audit_results_from_rows(stored, positions, legacy.get("unplaced_audit_results") or [])
    files, copies = _files_from_rows(stored.documents)
    project = msgspec.convert(
        {
            "id": str(row["id"]),
            "legacy_id": legacy_id,
            "name": pick("name", row["name"]),
            "description": pick("description", row["description"]),
            "workflow": pick("workflow", row["workflow"]),
            "status": pick("status", row["status"]),
            "owner_id": head.get("owner_id") if owner_unchanged else str(row["user_id"]),
            "owner_email": head.get("owner_email") if owner_unchanged else stored.owner_email,
            "created_at": pick("created_at", row["created_at"]),
            "updated_at": pick("updated_at", row["updated_at"]),
            "metadata": project_metadata,
        },
        LegacyProject,
    )
    project.positions = positions
    project.audit_results = audit_results
    project.files = files
    return project, copies


def _project_legacy_id(project_id: uuid.UUID, stored: Any) -> str:
    if isinstance(stored, str) and stored.strip() and stable_uuid("project", stored) == project_id:
        return stored
    return str(project_id)


def _positions_from_rows(legacy_project_id: str, rows: list[dict[str, Any]]) -> list[PositionRecord]:
    ordered = sorted(rows, key=_position_order)
    records: list[PositionRecord] = []
    for row in ordered:
        metadata: dict[str, Any] = row["metadata"] or {}
        own_metadata = {k: v for k, v in metadata.items() if k not in POSITION_RESERVED}
        stored_fields = metadata.get(POSITION_META_RECORD)
        if isinstance(stored_fields, dict):
            try:
                record = msgspec.convert({**stored_fields, "metadata": own_metadata}, PositionRecord)
            except msgspec.ValidationError:
                record = None
        else:
            record = None
        if record is None:
            record = _record_from_columns(row, own_metadata)
        else:
            derived = position_columns(record)
            for name, value in derived.items():
                current = row[name]
                if current != value:
                    setattr(record, name, current)
        records.append(record)
    return records


def _position_order(row: dict[str, Any]) -> tuple[int, int, int, str]:
    metadata = row["metadata"] or {}
    index = metadata.get(POSITION_META_INDEX)
    line = row.get("source_line")
    if isinstance(index, int):
        return (0, index, 0, str(row["id"]))
    return (1, 0, line if isinstance(line, int) else 0, str(row["id"]))


def _record_from_columns(row: dict[str, Any], own_metadata: dict[str, Any]) -> PositionRecord:
    """A position born in PostgreSQL: its columns, and an id the audit results can name it by."""
    metadata = dict(own_metadata)
    if not isinstance(metadata.get(POSITION_LEGACY_KEY), dict):
        metadata[POSITION_LEGACY_KEY] = {"id": str(row["lineage_id"])}
    extra: dict[str, Any] = {}
    for name in ("full_description", "object_code", "object_name", "catalog", "item_type"):
        if isinstance(own_metadata.get(name), str):
            extra[name] = own_metadata[name]
    return PositionRecord(
        description=row["description"],
        code=row["code"],
        position_number=row["position_number"],
        category=row["category"],
        unit=row["unit"],
        quantity=row["quantity"],
        unit_price=row["unit_price"],
        total_price=row["total_price"],
        source_line=row["source_line"],
        metadata=metadata,
        **extra,
    )


def _audit_results_from_rows(
    stored: StoredProject, positions: list[PositionRecord], unplaced: list[Any]
) -> list[LegacyAuditResult]:
    refs = position_refs(positions)
    ref_of_index: dict[int, str] = {}
    for ref, index in refs.items():
        ref_of_index.setdefault(index, ref)
    index_of_position = {row["id"]: i for i, row in enumerate(sorted(stored.positions, key=_position_order))}
    ordered: list[tuple[tuple[int, int, str], LegacyAuditResult]] = []
    for row in stored.audit_results:
        metadata: dict[str, Any] = row["metadata"] or {}
        stored_result = metadata.get(AUDIT_META_RESULT)
        legacy_index = metadata.get(AUDIT_META_INDEX)
        result: LegacyAuditResult | None = None
        if isinstance(stored_result, dict):
            try:
                result = msgspec.convert(stored_result, LegacyAuditResult)
            except msgspec.ValidationError:
                result = None
        position_index = index_of_position.get(row["position_id"], -1)
        if result is None:
            result = LegacyAuditResult(
                position_ref=ref_of_index.get(position_index),
                expert=row["expert_role"],
                status=_verdict(row["recommendation"]),
                confidence=float(row["confidence"]) / 100 if row["confidence"] is not None else None,
                reasoning=row["reasoning"],
                evidence=row["evidence"] if row["evidence"] else None,
                issues=list(row["issues"] or []),
                raw={k: v for k, v in metadata.items() if k != SOURCE_KEY},
            )
        else:
            derived = audit_columns(result)
            if row["expert_role"] != derived["expert_role"]:
                result.expert = row["expert_role"]
            if row["recommendation"] != derived["recommendation"]:
                result.status = _verdict(row["recommendation"])
            if row["confidence"] != derived["confidence"]:
                result.confidence = float(row["confidence"]) / 100
            if row["reasoning"] != derived["reasoning"]:
                result.reasoning = row["reasoning"]
            if row["evidence"] != derived["evidence"]:
                result.evidence = row["evidence"]
            if row["issues"] != derived["issues"]:
                result.issues = list(row["issues"] or [])
        key = (0, legacy_index, "") if isinstance(legacy_index, int) else (1, position_index, str(row["expert_role"]))
        ordered.append((key, result))
    for item in unplaced:
        if isinstance(item, dict) and isinstance(item.get("index"), int) and isinstance(item.get("result"), dict):
            try:
                result = msgspec.convert(item["result"], LegacyAuditResult)
            except msgspec.ValidationError:
                continue
            ordered.append(((0, item["index"], ""), result))
    ordered.sort(key=lambda pair: pair[0])
    return [result for _, result in ordered]


def _verdict(value: Any) -> Verdict | None:
    return value if value in _VERDICT_RANK else None


def _files_from_rows(rows: Iterable[dict[str, Any]]) -> tuple[list[LegacyFile], list[DocumentCopy]]:
    files: list[LegacyFile] = []
    copies: list[DocumentCopy] = []
    used: set[str] = set()
    for row in sorted(rows, key=lambda r: (str((r["metadata"] or {}).get("relative_path") or "~"), str(r["id"]))):
        metadata: Mapping[str, Any] = row["metadata"] or {}
        relative = metadata.get("relative_path")
        migrated = isinstance(relative, str) and _usable_relative_path(relative) and relative not in used
        if migrated:
            assert isinstance(relative, str)
            file_type = metadata.get("legacy_file_type")
            legacy_file_id = metadata.get("legacy_id")
            mtime = _parse_time(metadata.get("mtime")) or _micro(row["created_at"])
        else:
            relative = _new_document_path(row, used)
            parts = relative.split("/")
            file_type = parts[1] if parts[0] == "raw" and len(parts) >= 3 else None
            legacy_file_id = None
            mtime = _micro(row["created_at"])
        used.add(relative)
        files.append(
            LegacyFile(
                relative_path=relative,
                area=area_of(relative),
                file_type=file_type if isinstance(file_type, str) else None,
                size=int(row["file_size"]),
                sha256=row["content_hash"],
                mtime=mtime,
                legacy_file_id=legacy_file_id if isinstance(legacy_file_id, str) else None,
            )
        )
        copies.append(DocumentCopy(relative, row["storage_path"], int(row["file_size"]), row["content_hash"], mtime))
    files.sort(key=lambda f: f.relative_path)
    copies.sort(key=lambda c: c.relative_path)
    return files, copies


def _new_document_path(row: Mapping[str, Any], used: set[str]) -> str:
    """raw/{file_type}/{filename} for a document uploaded to PostgreSQL (unique in the project)."""
    name = str(row["filename"]).replace("/", "_").replace("\\", "_").replace("\0", "_").lstrip(".") or "document"
    folder = raw_folder(row["file_type"])
    relative = f"raw/{folder}/{name}"
    if relative in used or not _usable_relative_path(relative):
        stem, dot, suffix = name.rpartition(".")
        tag = str(row["id"])[:8]
        name = f"{stem} ({tag}).{suffix}" if dot and stem else f"{name} ({tag})"
        relative = f"raw/{folder}/{name}"
    return relative


def _usable_relative_path(relative: str) -> bool:
    if not relative or relative.startswith("/") or "\0" in relative:
        return False
    if any(part in {"", ".", ".."} for part in relative.split("/")):
        return False
    return str(PurePosixPath(relative)) not in JSON_FILES and not is_store_internal(relative)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _micro(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond)
