"""Loading projects' rows from PostgreSQL for export, verify and the dual-write mirror.

One query per table for a whole batch of projects; only the latest budget version's positions (and
the audit results on them) are loaded, as that is what the file store holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.models import AuditResult, BudgetVersion, Position, Project, ProjectDocument, User
from app.domain.budgets.queries import in_version
from app.domain.filestore.mapping import StoredProject

Executor = AsyncSession | AsyncConnection

_projects = Project.__table__
_users = User.__table__
_versions = BudgetVersion.__table__
_positions = Position.__table__
_audits = AuditResult.__table__
_documents = ProjectDocument.__table__
# Where a row sits in the version history: not a field of the file store's position records.
_RANGE_COLUMNS = ("valid_from", "valid_to")


async def load_projects(db: Executor, project_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredProject]:
    """The stored projects among ``project_ids`` (missing ones are simply absent)."""
    if not project_ids:
        return {}
    ids = list(project_ids)
    project_rows = await _fetch(
        db,
        select(_projects, _users.c.email.label("owner_email"))
        .join(_users, _users.c.id == _projects.c.user_id, isouter=True)
        .where(_projects.c.id.in_(ids)),
    )
    if not project_rows:
        return {}
    latest = (
        select(_versions.c.project_id, _versions.c.version)
        .where(_versions.c.project_id.in_(ids))
        .distinct(_versions.c.project_id)
        .order_by(_versions.c.project_id, _versions.c.version.desc())
        .subquery()
    )
    # The latest version's rows (rows are shared by a range of versions: app.db.models.budgets.Position).
    positions = await _fetch(
        db,
        select(*[column for column in _positions.c if column.name not in _RANGE_COLUMNS]).join(
            latest, in_version(latest.c, _positions.c)
        ),
    )
    position_ids = [row["id"] for row in positions]
    audits = await _fetch(db, select(_audits).where(_audits.c.position_id.in_(position_ids))) if position_ids else []
    documents = await _fetch(db, select(_documents).where(_documents.c.project_id.in_(ids)))
    stored: dict[uuid.UUID, StoredProject] = {}
    for row in project_rows:
        owner_email = row.pop("owner_email")
        stored[row["id"]] = StoredProject(
            project=row, owner_email=owner_email, positions=[], audit_results=[], documents=[]
        )
    for row in positions:
        stored[row["project_id"]].positions.append(row)
    for row in audits:
        stored[row["project_id"]].audit_results.append(row)
    for row in documents:
        stored[row["project_id"]].documents.append(row)
    return stored


async def project_ids_page(db: Executor, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
    """Project ids in id order, ``limit`` after ``after`` (keyset paging over every project)."""
    statement = select(_projects.c.id).order_by(_projects.c.id).limit(limit)
    if after is not None:
        statement = statement.where(_projects.c.id > after)
    return [row["id"] for row in await _fetch(db, statement)]


async def migrated_directories(db: Executor) -> dict[uuid.UUID, str | None]:
    """Every project id → the store directory it was migrated from (None: born in PostgreSQL)."""
    directory = _projects.c["metadata"]["migration"]["directory"].astext
    rows = await _fetch(db, select(_projects.c.id, directory.label("directory")))
    return {row["id"]: row["directory"] for row in rows}


async def project_count(db: Executor) -> int:
    return int((await db.execute(select(func.count()).select_from(_projects))).scalar_one())


async def _fetch(db: Executor, statement: Any) -> list[dict[str, Any]]:
    result = await db.execute(statement)
    return [dict(row) for row in result.mappings().all()]
