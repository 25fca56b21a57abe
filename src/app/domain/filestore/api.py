"""The REST API during a rollback: read sources that answer from the file store, and the files_only guard.

``MIGRATION_READ_FROM=files``: the plug-in provides ``project_reads`` and ``position_reads`` (the core's
read-source protocols) from here. The project list, a project and its positions are read from the
store (``file_reads``) and shaped as the PostgreSQL answers are (``ProjectRead``, ``PositionRead``; the
ids are the ones the migration gives the rows, positions born in PostgreSQL keep their lineage id).
The list filters of the API are applied as PostgreSQL applies them; one the files cannot answer is
refused with 400. The store keeps no budget history: its positions are the current version (1, or 0
when there are none), and another `version` is refused with 400.

``MIGRATION_MODE=files_only``: the store is the writer, so the unsafe methods of every route marked
``WRITES_PROJECT_DATA`` answer 503 (guard ``refuse_writes_in_files_only``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from advanced_alchemy.filters import (
    BeforeAfter,
    CollectionFilter,
    LimitOffset,
    NotInCollectionFilter,
    NotInSearchFilter,
    OrderBy,
    SearchFilter,
    StatementFilter,
)
from litestar import Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.reads import PositionQuery
from app.domain.budgets.schemas import PositionRead
from app.domain.filestore.blobs import storage_root
from app.domain.filestore.file_reads import (
    Viewer,
    get_project_from_files,
    list_projects_from_files,
)
from app.domain.filestore.legacy import (
    META_AUDIT_FILE,
    META_DIRECTORY,
    META_LEGACY_FIELDS,
    META_POSITIONS_FILE,
    META_WARNINGS,
    POSITION_LEGACY_KEY,
    LegacyProject,
)
from app.domain.filestore.mapping import PROJECT_META_LEGACY_ID, ProjectRows, owner_id_for, project_rows
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.domain.projects.schemas import CENT, ProjectRead
from app.domain.projects.services import project_not_found
from app.lib.errors import InvalidInput, ServiceUnavailable, field_error
from app.lib.pagination import Page

T = TypeVar("T")

WRITES_REFUSED = "The file store is the writer during a rollback (MIGRATION_MODE=files_only): try again later."
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READER_KEYS = frozenset({META_LEGACY_FIELDS, META_WARNINGS, META_POSITIONS_FILE, META_AUDIT_FILE, META_DIRECTORY})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reads_files(settings: Settings) -> bool:
    return settings.MIGRATION_READ_FROM == "files"


async def refuse_writes_in_files_only(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard (app-wide): 503 problem+json for writes to project data while the file store is the writer."""
    settings: Settings = connection.app.state.settings
    if (
        settings.MIGRATION_MODE == "files_only"
        and handler.opt.get(WRITES_PROJECT_DATA)
        and connection.scope.get("method", "GET") not in _SAFE_METHODS
    ):
        raise ServiceUnavailable(WRITES_REFUSED, headers={"Retry-After": "300"})


def viewer_of(actor: SessionUser) -> Viewer:
    return Viewer(user_id=actor.id, email=actor.email, is_admin=actor.is_admin)


async def project_from_files(settings: Settings, actor: SessionUser, project_id: uuid.UUID) -> LegacyProject | None:
    return await get_project_from_files(settings, viewer_of(actor), project_id)


@dataclass(frozen=True)
class FileProjectReads:
    """``ProjectReads`` from the store."""

    settings: Settings

    async def page(
        self, actor: SessionUser, filters: list[StatementFilter], limit_offset: LimitOffset
    ) -> Page[ProjectRead]:
        projects, _ = await list_projects_from_files(self.settings, viewer_of(actor), limit=None, offset=0)
        reads = apply_filters([project_read(self.settings, p) for p in projects], filters)
        return _page(reads, limit_offset)

    async def one(self, actor: SessionUser, project_id: uuid.UUID) -> Response[ProjectRead]:
        found = await project_from_files(self.settings, actor, project_id)
        if found is None:
            raise project_not_found()
        return Response(project_read(self.settings, found))


@dataclass(frozen=True)
class FilePositionReads:
    """``PositionReads`` from the store: the positions of the project's current version."""

    settings: Settings

    async def page(self, actor: SessionUser, query: PositionQuery) -> tuple[Page[PositionRead], int]:
        project = await project_from_files(self.settings, actor, query.project_id)
        if project is None:
            raise project_not_found()
        current = 1 if project.positions else 0
        if query.version is not None and query.version != current:
            raise InvalidInput(
                "The file store keeps only the current budget version.",
                errors=[field_error("version", f"must be {current} (the current version) while reading from files")],
            )
        positions = apply_filters(position_reads(self.settings, project), query.filters)
        return _page(positions, query.limit_offset), current


def file_read_sources(settings: Settings) -> dict[str, Callable[[Any], Any]]:
    """The read sources for MIGRATION_READ_FROM=files (they replace the PostgreSQL ones, see READ_SOURCES)."""
    projects, positions = FileProjectReads(settings), FilePositionReads(settings)
    return {"project_reads": lambda _request: projects, "position_reads": lambda _request: positions}


def _page(items: list[T], limit_offset: LimitOffset) -> Page[T]:
    start, end = limit_offset.offset, limit_offset.offset + limit_offset.limit
    return Page(items=items[start:end], total=len(items), limit=limit_offset.limit, offset=limit_offset.offset)


# What a client sends for a filter (advanced-alchemy names the search filter after its fields).
_QUERY_NAME = {SearchFilter: "q"}


def apply_filters(items: list[T], filters: list[StatementFilter]) -> list[T]:
    """The API's list filters applied to answers read from files, as PostgreSQL applies them
    (collections: IN; search: substring in any of its fields, case-insensitive when asked; dates:
    exclusive bounds). A filter that cannot be answered here is refused with 400, naming it."""
    for condition in filters:
        if isinstance(condition, (LimitOffset, OrderBy)):
            continue
        if isinstance(condition, NotInCollectionFilter | NotInSearchFilter) or not isinstance(
            condition, CollectionFilter | SearchFilter | BeforeAfter
        ):
            name = str(getattr(condition, "field_name", type(condition).__name__))
            raise InvalidInput(
                "This filter cannot be applied while reading from the file store.",
                errors=[field_error(name, "is not supported while reading from files")],
            )
        items = [item for item in items if _matches(item, condition)]
    return items


def _matches(item: Any, condition: CollectionFilter[Any] | SearchFilter | BeforeAfter) -> bool:
    if isinstance(condition, CollectionFilter):
        if condition.values is None:
            return True
        return _value(item, condition.field_name) in {str(v) for v in condition.values}
    if isinstance(condition, SearchFilter):
        needle = condition.value.casefold() if condition.ignore_case else condition.value
        for name in condition.normalized_field_names:
            text = _value(item, name)
            if text is not None and needle in (text.casefold() if condition.ignore_case else text):
                return True
        return False
    moment = getattr(item, str(condition.field_name))
    if moment is None:
        return condition.before is None and condition.after is None
    if condition.before is not None and not moment < condition.before:
        return False
    return condition.after is None or moment > condition.after


def _value(item: Any, field_name: Any) -> str | None:
    value = getattr(item, str(field_name))
    return None if value is None else str(value)


def project_read(settings: Settings, project: LegacyProject) -> ProjectRead:
    row = _rows(settings, project).project
    metadata = {k: v for k, v in project.metadata.items() if k not in _READER_KEYS}
    if project.legacy_id != str(project.id):
        metadata.setdefault(PROJECT_META_LEGACY_ID, project.legacy_id)
    return ProjectRead(
        id=row["id"],
        owner_id=row["user_id"],
        name=row["name"],
        description=row["description"],
        workflow=row["workflow"],
        status=row["status"],
        progress=Decimal(row["progress"]).quantize(CENT),
        current_version=row["current_version"],
        total_positions=row["total_positions"],
        total_cost=Decimal(row["total_cost"]).quantize(CENT),
        issues_count_red=row["issues_count_red"],
        issues_count_amber=row["issues_count_amber"],
        issues_count_green=row["issues_count_green"],
        metadata_=metadata,
        completed_at=row["completed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def position_reads(settings: Settings, project: LegacyProject) -> list[PositionRead]:
    """The project's positions (file order) as the API shows a version's positions."""
    reads = []
    for record, row in zip(project.positions, _rows(settings, project).positions, strict=True):
        lineage_id = _born_in_postgres(record.metadata) or row["lineage_id"]
        reads.append(
            PositionRead(
                id=row["id"] if lineage_id == row["lineage_id"] else lineage_id,
                lineage_id=lineage_id,
                version_id=row["version_id"],
                position_number=row["position_number"],
                code=row["code"],
                description=row["description"],
                category=row["category"],
                unit=row["unit"],
                quantity=row["quantity"],
                unit_price=row["unit_price"],
                total_price=row["total_price"],
                status=row["status"],
                confidence=row["confidence"],
                source=row["source"],
                source_document_id=row["source_document_id"],
                source_line=row["source_line"],
                enrichment=row["enrichment"],
                metadata_=msgspec.to_builtins(record.metadata),
                notes=row["notes"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
        )
    return reads


def _born_in_postgres(metadata: dict[str, Any]) -> uuid.UUID | None:
    """A position the mirror wrote for a row born in PostgreSQL names it by its lineage id."""
    legacy = metadata.get(POSITION_LEGACY_KEY)
    if not isinstance(legacy, dict) or set(legacy) != {"id"} or not isinstance(legacy["id"], str):
        return None
    try:
        return uuid.UUID(legacy["id"])
    except ValueError:
        return None


def _owner_id(settings: Settings, project: LegacyProject) -> uuid.UUID:
    if project.owner_id:
        try:
            return uuid.UUID(project.owner_id)
        except ValueError:
            pass
    return owner_id_for(project.owner_email or settings.MIGRATION_DEFAULT_OWNER)


def _rows(settings: Settings, project: LegacyProject) -> ProjectRows:
    moment = project.created_at or project.updated_at or _EPOCH
    return project_rows(
        project,
        owner_id=_owner_id(settings, project),
        storage_root=storage_root(settings.STORAGE_DIR),
        fallback_time=moment,
        fingerprint=None,
        data_dir=settings.DATA_DIR,
        migrated_at=moment,
    )
