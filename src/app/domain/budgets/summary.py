"""A budget version's totals: `budget_versions.summary` and the project's counts, in one aggregate query.

The summary holds the totals by object (SO …) and by category, and the audit counts: positions by
verdict, open findings (RED / AMBER) and, beside them, the ones an estimator resolved. A resolution
(`finding_resolutions`, one per position lineage and expert) holds while the position keeps the content
it had when it was resolved (`JUDGED_COLUMNS`), so a version made by an edit counts it without an audit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import BudgetVersion, Project
from app.domain.budgets.queries import IN_VERSION_SQL

# The position values a verdict judged: a resolution lapses when one of them changes.
JUDGED_COLUMNS = (
    "position_number",
    "code",
    "description",
    "category",
    "unit",
    "quantity",
    "unit_price",
    "total_price",
    "metadata",
)


def unchanged_sql(current: str, resolved: str) -> str:
    """SQL: position `current` has the judged content of position `resolved` (NULLs equal)."""
    left = ", ".join(f"{current}.{name}" for name in JUDGED_COLUMNS)
    right = ", ".join(f"{resolved}.{name}" for name in JUDGED_COLUMNS)
    return f"({left}) IS NOT DISTINCT FROM ({right})"


# One pass over the version's positions: grouped by object, by category, by verdict (resolved or not)
# and in total. A resolution is looked up only for the orchestrator's finding of each lineage, and only
# in a project that has resolutions: most have none, and the look-up is one index probe per position
# (2,000 per edit of a 2,000-position budget, about half the query's time).
_TOTALS_SQL = """
    SELECT GROUPING(j.object_code, j.category, j.status, j.resolved) AS grouping,
           j.object_code, j.category, j.status, j.resolved,
           count(*) AS positions, coalesce(sum(j.total_price), 0) AS total_cost
    FROM (
        SELECT p.metadata->>'object_code' AS object_code, p.category, p.status, p.total_price,
               {resolved} AS resolved
        FROM budget_versions v
        JOIN positions p ON {in_version}
        {resolutions}
        WHERE v.id = :version_id
    ) AS j
    GROUP BY GROUPING SETS ((j.object_code), (j.category), (j.status, j.resolved), ())
"""
_TOTALS_RESOLVED_SQL = _TOTALS_SQL.format(
    resolved=f"(r.id IS NOT NULL AND {unchanged_sql('p', 'rp')})",
    in_version=IN_VERSION_SQL,
    resolutions="""LEFT JOIN finding_resolutions r
            ON r.project_id = p.project_id AND r.lineage_id = p.lineage_id AND r.expert_role = 'orchestrator'
        LEFT JOIN positions rp ON rp.id = r.position_id""",
)
_TOTALS_UNRESOLVED_SQL = _TOTALS_SQL.format(resolved="false", in_version=IN_VERSION_SQL, resolutions="")
_TOTALS = text(_TOTALS_RESOLVED_SQL)
_TOTALS_UNRESOLVED = text(_TOTALS_UNRESOLVED_SQL)
# The same queries for the driver's own placeholders (app.domain.budgets.edits runs them on asyncpg).
TOTALS_DRIVER_SQL = _TOTALS_RESOLVED_SQL.replace(":version_id", "$1")
TOTALS_UNRESOLVED_DRIVER_SQL = _TOTALS_UNRESOLVED_SQL.replace(":version_id", "$1")
HAS_RESOLUTIONS_SQL = "EXISTS (SELECT 1 FROM finding_resolutions WHERE project_id = {project_id})"
_HAS_RESOLUTIONS = text("SELECT " + HAS_RESOLUTIONS_SQL.format(project_id=":project_id"))
# GROUPING() of each set: a bit per column left out (object_code 8, category 4, status 2, resolved 1).
# Public for app.domain.budgets.edits, which aggregates the same rows in SQL.
GROUPING_BY_OBJECT, GROUPING_BY_CATEGORY, GROUPING_BY_VERDICT, GROUPING_ALL = 0b0111, 0b1011, 0b1100, 0b1111


@dataclass
class VersionTotals:
    positions: int = 0
    total_cost: Decimal = Decimal("0")
    open: dict[str, int] = field(default_factory=lambda: {"RED": 0, "AMBER": 0, "GREEN": 0})
    resolved: dict[str, int] = field(default_factory=lambda: {"RED": 0, "AMBER": 0})
    unaudited: int = 0
    by_object: list[dict[str, Any]] = field(default_factory=list)
    by_category: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "positions": self.positions,
            "total_cost": str(self.total_cost),
            "by_object": self.by_object,
            "by_category": self.by_category,
            "audit": {**self.open, "resolved": self.resolved, "unaudited": self.unaudited},
        }

    def apply_to(self, project: Project) -> None:
        """The project's aggregates: open findings, and the resolved ones beside them."""
        project.total_positions = self.positions
        project.total_cost = self.total_cost
        project.issues_count_red = self.open["RED"]
        project.issues_count_amber = self.open["AMBER"]
        project.issues_count_green = self.open["GREEN"]
        project.issues_resolved_red = self.resolved["RED"]
        project.issues_resolved_amber = self.resolved["AMBER"]


def totals_of(rows: Iterable[Any]) -> VersionTotals:
    """The totals from the rows of the totals query (grouping, object_code, category, status, resolved,
    positions, total_cost)."""
    totals = VersionTotals()
    for row in rows:
        grouping, count, cost = row["grouping"], int(row["positions"]), Decimal(row["total_cost"])
        if grouping == GROUPING_ALL:
            totals.positions, totals.total_cost = count, cost
        elif grouping == GROUPING_BY_OBJECT:
            totals.by_object.append({"object_code": row["object_code"], "positions": count, "total_cost": str(cost)})
        elif grouping == GROUPING_BY_CATEGORY:
            totals.by_category.append({"category": row["category"], "positions": count, "total_cost": str(cost)})
        elif grouping == GROUPING_BY_VERDICT:
            status = row["status"]
            if status is None:
                totals.unaudited += count
            elif row["resolved"] and status in totals.resolved:
                totals.resolved[status] += count
            else:
                totals.open[status] += count
    totals.by_object.sort(key=lambda entry: (entry["object_code"] is None, entry["object_code"] or ""))
    totals.by_category.sort(key=lambda entry: (entry["category"] is None, entry["category"] or ""))
    return totals


async def summarise_version(session: AsyncSession, version: BudgetVersion) -> VersionTotals:
    """Compute the version's totals and store them in `version.summary` (flushed with the session)."""
    params: dict[str, uuid.UUID] = {"version_id": version.id}
    resolutions = await session.scalar(_HAS_RESOLUTIONS, {"project_id": version.project_id})
    totals = totals_of((await session.execute(_TOTALS if resolutions else _TOTALS_UNRESOLVED, params)).mappings())
    version.summary = totals.summary()
    return totals
