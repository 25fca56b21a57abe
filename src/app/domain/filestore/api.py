"""The REST API during a rollback: answers from the file store and the files_only write guard.

``MIGRATION_READ_FROM=files``: the project list, a project and its positions are read from the store
(``file_reads``) and shaped as the PostgreSQL answers are (``ProjectRead``, ``PositionRead``; the ids
are the ones the migration gives the rows, positions born in PostgreSQL keep their lineage id). The
store keeps no budget history: its positions are the project's current version. List filters other
than ``limit``/``offset`` are not applied to answers from the files.

``MIGRATION_MODE=files_only``: the store is the writer, so API writes to projects, documents and
positions answer 503 (guard ``refuse_writes_in_files_only``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
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
from app.domain.projects.schemas import CENT, ProjectRead
from app.lib.errors import ServiceUnavailable
from app.lib.pagination import Page

WRITES_REFUSED = "The file store is the writer during a rollback (MIGRATION_MODE=files_only): try again later."
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READER_KEYS = frozenset({META_LEGACY_FIELDS, META_WARNINGS, META_POSITIONS_FILE, META_AUDIT_FILE, META_DIRECTORY})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reads_files(settings: Settings) -> bool:
    return settings.MIGRATION_READ_FROM == "files"


async def refuse_writes_in_files_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: 503 problem+json for writes while the file store is the writer."""
    settings: Settings = connection.app.state.settings
    if settings.MIGRATION_MODE == "files_only" and connection.scope.get("method", "GET") not in _SAFE_METHODS:
        raise ServiceUnavailable(WRITES_REFUSED, headers={"Retry-After": "300"})


def viewer_of(actor: SessionUser) -> Viewer:
    return Viewer(user_id=actor.id, email=actor.email, is_admin=actor.is_admin)


async def project_page_from_files(
    settings: Settings, actor: SessionUser, *, limit: int, offset: int
) -> Page[ProjectRead]:
    projects, total = await list_projects_from_files(settings, viewer_of(actor), limit=limit, offset=offset)
    return Page(items=[project_read(settings, p) for p in projects], total=total, limit=limit, offset=offset)


async def project_from_files(settings: Settings, actor: SessionUser, project_id: uuid.UUID) -> LegacyProject | None:
    return await get_project_from_files(settings, viewer_of(actor), project_id)


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
        metadata=metadata,
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
                metadata=msgspec.to_builtins(record.metadata),
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
