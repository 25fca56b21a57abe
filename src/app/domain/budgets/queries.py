"""The budget's read queries that other domains share: the latest (or a requested) version, and a
version's positions in budget order. Written once here; kb enrichment, audits and exports use them.

A position row belongs to the versions `valid_from <= version < valid_to` of its project (rows are
shared by versions; see app.db.models.budgets.Position): select a version's rows with `in_version`
(a loaded version), `in_version_id` (by id) or, in SQL, `IN_VERSION_SQL`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import BudgetVersion, Position, Project
from app.lib.errors import NotFound, field_error


def in_version(version: Any, position: Any = Position) -> ColumnElement[bool]:
    """The `position` rows (Position or an alias) in `version`: a loaded BudgetVersion, the class (or
    an alias of it) as a join condition, or anything with `project_id` and `version` (bound parameters)."""
    return and_(
        position.project_id == version.project_id,
        position.valid_to > version.version,
        position.valid_from <= version.version,
    )


def in_version_id(version_id: uuid.UUID, position: Any = Position) -> ColumnElement[bool]:
    """The positions of the version with this id (its project and number are looked up once, by key)."""
    number = select(BudgetVersion.version).where(BudgetVersion.id == version_id).scalar_subquery()
    project = select(BudgetVersion.project_id).where(BudgetVersion.id == version_id).scalar_subquery()
    return and_(position.project_id == project, position.valid_to > number, position.valid_from <= number)


def in_version_sql(position: str = "p", version: str = "v") -> str:
    """SQL: the row `position` of positions is in the version `version` of budget_versions."""
    return (
        f"{position}.project_id = {version}.project_id AND {position}.valid_to > {version}.version"
        f" AND {position}.valid_from <= {version}.version"
    )


IN_VERSION_SQL = in_version_sql()

# Budget order: as the positions stand in their file, then as they were added (one place for every query).
BUDGET_ORDER = (Position.source_line.asc().nulls_last(), Position.created_at.asc(), Position.lineage_id.asc())


async def latest_version(session: AsyncSession, project_id: uuid.UUID) -> tuple[Project, BudgetVersion | None]:
    """The project and its latest budget version (None before the first one); 404 when the project is gone."""
    project = await session.get(Project, project_id, populate_existing=True)
    if project is None:
        raise NotFound("The project does not exist.")
    version = await session.scalar(
        select(BudgetVersion).where(
            BudgetVersion.project_id == project_id, BudgetVersion.version == project.current_version
        )
    )
    return project, version


POSITION_COLUMNS = (
    Position.id,
    Position.lineage_id,
    Position.position_number,
    Position.code,
    Position.description,
    Position.category,
    Position.unit,
    Position.quantity,
    Position.unit_price,
    Position.total_price,
    Position.metadata_.label("metadata"),
    Position.enrichment,
)


async def version_positions(session: AsyncSession, version_id: uuid.UUID) -> list[dict[str, Any]]:
    """A version's positions as plain rows (``AuditPosition.from_row`` reads them), in budget order."""
    statement = select(*POSITION_COLUMNS).where(in_version_id(version_id)).order_by(*BUDGET_ORDER)
    return [dict(row) for row in (await session.execute(statement)).mappings()]


async def load_version(session: AsyncSession, project: Project, number: int | None) -> BudgetVersion:
    """The requested version, or the latest; 404 (NotFound) when the project has none."""
    wanted = number if number is not None else project.current_version
    version = await session.scalar(
        select(BudgetVersion).where(BudgetVersion.project_id == project.id, BudgetVersion.version == wanted)
    )
    if version is None:
        if number is not None:
            raise NotFound(
                f"The project has no budget version {wanted}.",
                errors=[field_error("version", f"the latest version is {project.current_version or 'none'}")],
            )
        raise NotFound("The project has no budget yet: upload and parse a budget, or generate one.")
    return version
