"""The database side of parsing: a stored document's parse result becomes a budget version and document fields.

`parse_document` (the pure parser) runs in a thread; what it returns is written in the caller's
transaction (the parse job's): a budget file gives a new budget version (trigger `document_added`)
that replaces exactly the positions read earlier from the same document (its `uploaded` ones:
generated positions citing the document as their source are not its), and the document gets
`parse_status`, `parsed_at`, `extracted_data` and `indexed_content`.

Effect exactly once: the version is made from a change set against the document's positions in the
latest version, so parsing the same file again makes no version at all; `extracted_data.version`
names the version that holds the document's positions.

Failures a person must fix (a broken file, not a budget, a value that does not fit) end the document
`failed` with `parse_error` and leave no version and no positions; they are not worker failures.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec
from sqlalchemy import String, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.db.models import Position, Project, ProjectDocument, utc_now
from app.domain.budgets.changes import NewPosition
from app.domain.budgets.records import DocumentParseError, ParsedDocument, ParseWarning, without_nul
from app.domain.budgets.services import BudgetService
from app.domain.documents.parsers import parse_document
from app.domain.documents.replacement import is_empty, latest_positions, replacement_changes
from app.domain.documents.tables import TABLE_FORMAT, looks_like_table_file, table_text
from app.domain.projects.services import lock_project
from app.lib.errors import ApplicationError

# Bumped when a parser change can give different positions for the same bytes (kept in extracted_data).
PARSER_VERSION = 2
MAX_WARNINGS_KEPT = 500


def _column_length(name: str) -> int:
    column_type = Position.__table__.c[name].type
    assert isinstance(column_type, String) and column_type.length is not None
    return column_type.length


# A position's text fields with a bounded column (varchar(n)) and its length; the others are text or jsonb.
BOUNDED_FIELDS = {name: _column_length(name) for name in ("position_number", "code", "category", "unit")}
MAX_SKIPPED_ROWS_IN_JOB_RESULT = 100  # the document's extracted_data lists up to 1,000


class StoredFileMissing(Exception):
    """The document's file is not where the row says: storage is not shared or was lost (not the user's fault)."""


class DocumentOutcome(msgspec.Struct, kw_only=True):
    """What parsing did to one document; the job result lists one per document."""

    document_id: str
    filename: str
    parse_status: Literal["completed", "failed"]
    format: str | None = None
    positions: int = 0
    warnings: int = 0
    total_price: str | None = None
    version: int | None = None  # the version holding this document's positions
    version_created: bool = False
    error: str | None = None
    # What did not become a position: counts by kind, the first rows with line and reason, skipped sheets.
    skipped: dict[str, int] = msgspec.field(default_factory=dict)
    skipped_rows: list[dict[str, Any]] = msgspec.field(default_factory=list)
    skipped_rows_truncated: bool = False
    skipped_sheets: list[dict[str, Any]] = msgspec.field(default_factory=list)


def read_stored_file(storage_path: str) -> bytes:
    path = Path(storage_path)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise StoredFileMissing(
            f"The stored file {path} does not exist; API and workers must share STORAGE_DIR."
        ) from exc


def fit_to_columns(parsed: ParsedDocument) -> ParsedDocument:
    """Each position's PČ, code, category and unit cut to its column's length, with a warning naming the
    field: PostgreSQL refused the whole budget for one over-long value ("value too long for type
    character varying(50)"), e.g. a PČ cell holding 1e300."""
    for record in parsed.positions:
        for name, limit in BOUNDED_FIELDS.items():
            value: str | None = getattr(record, name)
            if value is not None and len(value) > limit:
                setattr(record, name, value[:limit])
                message = f"{name} cut to {limit} characters (it had {len(value)}): {value[:40]!r}…"
                parsed.warnings.append(ParseWarning(line=record.source_line, message=message))
    return parsed


def extract(data: bytes, filename: str, *, schedules_as_text: bool) -> ParsedDocument:
    """Parse the bytes (CPU-bound: call in a thread); with `schedules_as_text` a spreadsheet or CSV
    that is no budget is kept as a text document instead of failing (Workflow B schedules). The
    document holds no NUL character (`without_nul`): PostgreSQL could store none of its text; and no
    position field longer than its column (`fit_to_columns`)."""
    try:
        return fit_to_columns(without_nul(parse_document(data, filename)))
    except DocumentParseError:
        if not schedules_as_text or not looks_like_table_file(data):
            raise
        text = table_text(data)
        if not text:
            raise
        return without_nul(ParsedDocument(format=TABLE_FORMAT, text=text, metadata={"read_as": "table text"}))


async def parse_stored_document(document: ProjectDocument, *, schedules_as_text: bool) -> ParsedDocument:
    """Read the file and parse it in a thread, so the worker's loop keeps heart-beating."""
    data = await asyncio.to_thread(read_stored_file, document.storage_path)
    return await asyncio.to_thread(extract, data, document.filename, schedules_as_text=schedules_as_text)


def _position_total(parsed: ParsedDocument) -> Decimal:
    return sum((p.total_price for p in parsed.positions if p.total_price is not None), Decimal("0"))


def extracted_data(parsed: ParsedDocument, *, version: int | None) -> dict[str, Any]:
    """Counts, totals, objects, format and warnings (each with its line) of a parsed document."""
    warnings = [msgspec.to_builtins(warning) for warning in parsed.warnings[:MAX_WARNINGS_KEPT]]
    by_object: dict[str, dict[str, Any]] = {}
    for position in parsed.positions:
        key = position.object_code or ""
        entry = by_object.setdefault(
            key, {"code": position.object_code, "name": position.object_name, "positions": 0, "total": Decimal(0)}
        )
        entry["positions"] += 1
        entry["total"] += position.total_price or Decimal(0)
    return {
        "format": parsed.format,
        "parser_version": PARSER_VERSION,
        "version": version,
        "counts": {
            "positions": len(parsed.positions),
            "objects": len(parsed.objects),
            "warnings": len(parsed.warnings),
            "skipped_rows": sum(parsed.skipped.values()),
            "text_characters": len(parsed.text),
        },
        "skipped": skip_report(parsed),
        "attached": dict(parsed.attached),
        "totals": {
            "total_price": str(_position_total(parsed)),
            "by_object": [{**entry, "total": str(entry["total"])} for entry in by_object.values()],
        },
        "objects": [msgspec.to_builtins(obj) for obj in parsed.objects],
        "warnings": warnings,
        "warnings_truncated": len(parsed.warnings) > MAX_WARNINGS_KEPT,
        "metadata": msgspec.to_builtins(parsed.metadata),
    }


def skip_report(parsed: ParsedDocument, *, limit: int | None = None) -> dict[str, Any]:
    """What was read but did not become a position: counts by kind, rows with line and reason, sheets.

    Counts are complete; the parser lists at most 1,000 rows and ``limit`` cuts that list further.
    """
    total = sum(count for kind, count in parsed.skipped.items() if not kind.startswith("sheet_rows:"))
    rows = parsed.skipped_rows if limit is None else parsed.skipped_rows[:limit]
    return {
        "counts": dict(parsed.skipped),
        "rows": [msgspec.to_builtins(row) for row in rows],
        "rows_truncated": len(rows) < total,
        "sheets": [msgspec.to_builtins(sheet) for sheet in parsed.skipped_sheets],
    }


async def load_document(session: AsyncSession, document_id: uuid.UUID) -> ProjectDocument | None:
    statement = (
        select(ProjectDocument)
        .where(ProjectDocument.id == document_id)
        .execution_options(populate_existing=True)
        .with_for_update()
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def store_parsed_document(
    session: AsyncSession,
    project_id: uuid.UUID,
    document_id: uuid.UUID,
    parsed: ParsedDocument,
    *,
    user_id: uuid.UUID | None,
    job_id: uuid.UUID,
) -> tuple[DocumentOutcome, Project]:
    """Write one parse result: the version (if the document's positions changed) and the document row.

    Runs in a SAVEPOINT of the caller's transaction, so a document whose values do not fit (an
    `ApplicationError` from the budgets service) rolls back alone and is recorded as failed.
    """
    try:
        async with session.begin_nested():
            return await _store(session, project_id, document_id, parsed, user_id=user_id, job_id=job_id)
    except ApplicationError as exc:
        message = exc.detail
        if exc.errors:
            message += " " + "; ".join(f"{error['field']}: {error['message']}" for error in exc.errors[:5])
        return await store_parse_failure(session, document_id, f"The budget cannot be stored: {message}", parsed)


async def _store(
    session: AsyncSession,
    project_id: uuid.UUID,
    document_id: uuid.UUID,
    parsed: ParsedDocument,
    *,
    user_id: uuid.UUID | None,
    job_id: uuid.UUID,
) -> tuple[DocumentOutcome, Project]:
    project = await lock_project(session, None, project_id)  # one version at a time per project
    document = await load_document(session, document_id)
    assert document is not None
    old = await latest_positions(session, project, source_document_id=document.id, source="uploaded")
    new = [
        NewPosition.from_record(record, source="uploaded", source_document_id=document.id)
        for record in parsed.positions
    ]
    changes = replacement_changes(old, new)
    created = False
    if not is_empty(changes):
        await BudgetService(session=session).create_version(
            project.id,
            "document_added",
            {
                "document_id": str(document.id),
                "format": parsed.format,
                "filename": document.filename,
                "job_id": str(job_id),
                "reparse": bool(old),
            },
            changes=changes,
            user_id=user_id,
        )
        created = True
    version = project.current_version if parsed.positions or created else None
    document.parse_status = "completed"
    document.parse_error = None
    document.parsed_at = utc_now()
    document.extracted_data = extracted_data(parsed, version=version)
    document.indexed_content = None
    await session.flush()
    indexed = await store_searchable_text(session, document, parsed.text)
    if indexed < len(parsed.text):
        document.extracted_data = {
            **document.extracted_data,
            "metadata": {**document.extracted_data["metadata"], "text_indexed_characters": indexed},
        }
        await session.flush()
    outcome = DocumentOutcome(
        document_id=str(document.id),
        filename=document.filename,
        parse_status="completed",
        format=parsed.format,
        positions=len(parsed.positions),
        warnings=len(parsed.warnings),
        total_price=str(_position_total(parsed)) if parsed.positions else None,
        version=version,
        version_created=created,
        **_outcome_skips(parsed),
    )
    return outcome, project


# PostgreSQL's "string is too long for tsvector" (a tsvector holds at most 1 MB).
_PROGRAM_LIMIT_EXCEEDED = "54000"


async def store_searchable_text(session: AsyncSession, document: ProjectDocument, text: str) -> int:
    """Store as much of `text` as the full-text indexes take; returns how many characters were kept.

    The text is already bounded in characters (MAX_SEARCH_TEXT), but a tsvector is bounded in bytes of
    distinct words and positions, which no character count predicts (a table of part numbers makes one
    word per cell). PostgreSQL refuses the row then, so the text is halved until it fits: a search index
    of the first megabytes finds what a person searches for, and a parse must not fail over its index.
    """
    while text:
        try:
            async with session.begin_nested():
                await session.execute(
                    update(ProjectDocument).where(ProjectDocument.id == document.id).values(indexed_content=text)
                )
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != _PROGRAM_LIMIT_EXCEEDED:
                raise
            text = text[: len(text) // 2]
            continue
        set_committed_value(document, "indexed_content", text)
        return len(text)
    return 0


def _outcome_skips(parsed: ParsedDocument) -> dict[str, Any]:
    report = skip_report(parsed, limit=MAX_SKIPPED_ROWS_IN_JOB_RESULT)
    return {
        "skipped": report["counts"],
        "skipped_rows": report["rows"],
        "skipped_rows_truncated": report["rows_truncated"],
        "skipped_sheets": report["sheets"],
    }


async def store_parse_failure(
    session: AsyncSession, document_id: uuid.UUID, error: str, parsed: ParsedDocument | None = None
) -> tuple[DocumentOutcome, Project]:
    """The document ends `failed` with a message a person can act on; nothing else is written."""
    document = await load_document(session, document_id)
    if document is None:
        raise LookupError(f"document {document_id} no longer exists")
    project = await lock_project(session, None, document.project_id)
    document.parse_status = "failed"
    document.parse_error = error
    document.parsed_at = utc_now()
    document.extracted_data = {
        "format": parsed.format if parsed else None,
        "parser_version": PARSER_VERSION,
        "version": None,
        "error": error,
    }
    document.indexed_content = None
    await session.flush()
    outcome = DocumentOutcome(
        document_id=str(document.id),
        filename=document.filename,
        parse_status="failed",
        format=parsed.format if parsed else None,
        error=error,
    )
    return outcome, project
