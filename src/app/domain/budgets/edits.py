"""A user's edit of one position (REST add / PATCH / DELETE): the same version as
`BudgetService.create_version` makes, in as few round trips as the rules allow.

The edit is a third of the API's CPU under load, and most of that was per-request overhead: ORM
objects, flushes and a statement per step. Here, in the session's transaction:

1. the project's row lock (`lock_project`'s statement: owner or administrator, else 404) — through
   SQLAlchemy, which begins the transaction;
2. one read: the latest version, the referenced position (by its id in any version or its lineage
   id) and whether the project has resolutions;
3. one write: the version row, the changed lineage's row closed and its new state inserted
   (RETURNING it, as stored);
4. the totals of the new version (the query `summarise_version` runs, its summary built in SQL) onto
   the version and the project (RETURNING the project's row: its cached state).

Steps 2-4 run on asyncpg directly (`app.lib.db.driver_fetch`). The rules are the ones of
`create_version` (shared: `plan_change_set`, `validate_amounts`, the totals query), and the tests
of the budgets API hold both to them (tests/integration/budgets/test_edit_round_trips.py compares
the totals with `summarise_version`'s). After the commit, `ProjectStateWritten` drops the project's
cache entries and puts the returned state in place in the same Redis MULTI, so the client's next
read is a hit without reading PostgreSQL again.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import msgspec
from advanced_alchemy.types import DateTimeUTC
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Position, Project, utc_now
from app.db.models.budgets import OPEN_VERSION
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.schemas import PositionRead, VersionSummary
from app.domain.budgets.summary import (
    GROUPING_ALL,
    GROUPING_BY_CATEGORY,
    GROUPING_BY_OBJECT,
    GROUPING_BY_VERDICT,
    HAS_RESOLUTIONS_SQL,
    TOTALS_DRIVER_SQL,
    TOTALS_UNRESOLVED_DRIVER_SQL,
)
from app.domain.projects.cache import project_state_entry, project_state_key
from app.domain.projects.changes import ProjectStateWritten
from app.lib import cache
from app.lib.db import driver_connection, driver_fetch

_encode = msgspec.json.encode
_encode_json_numbers = msgspec.json.Encoder(decimal_format="number").encode
_decode = msgspec.json.decode


def _columns(model: Any) -> tuple[tuple[str, str, str], ...]:
    """(attribute, column, the SQL type a parameter of it is cast to) of each column of `model`. The
    casts carry no length or scale: the column's own type checks the value as an INSERT would."""
    found = []
    for key, column in model.__mapper__.columns.items():
        kind = column.type
        if isinstance(kind, JSONB):
            cast = "jsonb"
        elif isinstance(kind, PG_UUID):
            cast = "uuid"
        elif isinstance(kind, Integer):
            cast = "integer"
        elif isinstance(kind, Numeric):
            cast = "numeric"
        elif isinstance(kind, Text):
            cast = "text"
        elif isinstance(kind, String):
            cast = "varchar"
        elif isinstance(kind, DateTimeUTC):
            cast = "timestamptz"
        else:  # a new column type needs its cast here, not a wrong guess at run time
            raise TypeError(f"{model.__name__}.{key}: no parameter cast for {kind!r}")
        found.append((key, column.name, cast))
    return tuple(found)


_POSITION = _columns(Position)
_PROJECT = _columns(Project)
_POSITION_JSON = frozenset(key for key, _, cast in _POSITION if cast == "jsonb")
_PROJECT_JSON = frozenset(key for key, _, cast in _PROJECT if cast == "jsonb")
_POSITION_SELECT = ", ".join(f"p.{column}" for _, column, _ in _POSITION)
_POSITION_RETURNING = ", ".join(column for _, column, _ in _POSITION)
_PROJECT_RETURNING = ", ".join(column for _, column, _ in _PROJECT)

# lock_project's statement (owner or administrator), through SQLAlchemy: it begins the transaction.
_LOCK = text("SELECT user_id, current_version FROM projects WHERE id = :id FOR UPDATE")
_LOCK_OWNED = text("SELECT user_id, current_version FROM projects WHERE id = :id AND user_id = :owner FOR UPDATE")

# $1 project, $2 latest version number, $3 the reference (a position id in any version, or a lineage id;
# NULL when adding). One row when the version exists; the position's columns NULL when the lineage has
# no row in it.
_READ = f"""
SELECT v.id AS v_id, v.total_cost AS v_total_cost,
       {HAS_RESOLUTIONS_SQL.format(project_id="$1")} AS has_resolutions,
       l.lineage_id AS reference_lineage, {_POSITION_SELECT}
FROM budget_versions v
CROSS JOIN LATERAL (
    SELECT coalesce((SELECT k.lineage_id FROM positions k WHERE k.project_id = $1 AND k.id = $3::uuid), $3::uuid)
           AS lineage_id
) l
LEFT JOIN positions p
       ON p.project_id = $1 AND p.lineage_id = l.lineage_id AND p.valid_to > v.version AND p.valid_from <= v.version
WHERE v.project_id = $1 AND v.version = $2
"""

_VERSION_INSERT = """
INSERT INTO budget_versions (id, project_id, version, trigger_type, trigger_details, total_positions, total_cost,
                             delta_cost, changes, created_by, summary, created_at)
VALUES ($1, $2, $3, $4, $5::jsonb, 0, 0, 0, $6::jsonb, $7, '{}'::jsonb, $8)
RETURNING id
"""
# The changed lineage's row of the previous version ends at the new one (updated_at kept: ending a
# row's range is not an edit of it). $2 project, $3 new version, $9 lineage, $10 previous version.
_CLOSE = """
UPDATE positions SET valid_to = $3, updated_at = updated_at
WHERE lineage_id = $9::uuid AND project_id = $2 AND valid_to > $10::integer AND valid_from <= $10::integer
RETURNING 1
"""


def _new_row_values(first: int) -> str:
    """The new row's parameters from `$first` on, each cast to its column's type."""
    return ", ".join(f"${index}::{cast}" for index, (_, _, cast) in enumerate(_POSITION, start=first))


_POSITION_COLUMNS = ", ".join(column for _, column, _ in _POSITION)
# A new row is inserted only once the old one is closed (the scalar subqueries run first: one open row
# per lineage is a unique index, checked row by row); the version row it refers to is checked at the
# statement's end, as foreign keys are.
_INSERT_AFTER_CLOSE = f"""
WITH version AS ({_VERSION_INSERT}), closed AS ({_CLOSE})
INSERT INTO positions ({_POSITION_COLUMNS})
SELECT {_new_row_values(11)}
WHERE (SELECT count(*) FROM version) + (SELECT count(*) FROM closed) >= 0
RETURNING {_POSITION_RETURNING}
"""
_INSERT = f"""
WITH version AS ({_VERSION_INSERT})
INSERT INTO positions ({_POSITION_COLUMNS})
SELECT {_new_row_values(9)}
WHERE (SELECT count(*) FROM version) >= 0
RETURNING {_POSITION_RETURNING}
"""
_REMOVE = f"WITH version AS ({_VERSION_INSERT}) {_CLOSE}"
_VERSION_ONLY = _VERSION_INSERT

# The totals of the new version ($1) as `summarise_version` makes them (`VersionTotals.summary()`: by
# object and by category in code point order, the positions without one last; the audit counts), onto
# the version and the project in the same statement. $2 the previous version's total, $3 the new
# version's number, $4 now, $5 the project. {totals}: the totals query of `summarise_version`; the
# GROUPING() values its sets are told apart by are summary.py's (GROUPING_*), as `totals_of` reads them.
_TOTALS_ONTO_PROJECT = """
WITH t AS ({totals}),
agg AS (
    SELECT coalesce(max(positions) FILTER (WHERE "grouping" = {all}), 0)::integer AS positions,
           coalesce(max(total_cost) FILTER (WHERE "grouping" = {all}), 0) AS total_cost,
           {counts},
           coalesce(jsonb_agg(jsonb_build_object('object_code', object_code, 'positions', positions,
                                                 'total_cost', total_cost::text)
                              ORDER BY object_code IS NULL, object_code COLLATE "C")
                    FILTER (WHERE "grouping" = {by_object}),
                    '[]'::jsonb) AS by_object,
           coalesce(jsonb_agg(jsonb_build_object('category', category, 'positions', positions,
                                                 'total_cost', total_cost::text)
                              ORDER BY category IS NULL, category COLLATE "C")
                    FILTER (WHERE "grouping" = {by_category}),
                    '[]'::jsonb) AS by_category
    FROM t
),
version AS (
    UPDATE budget_versions v
    SET total_positions = agg.positions, total_cost = agg.total_cost, delta_cost = agg.total_cost - $2::numeric,
        summary = jsonb_build_object(
            'positions', agg.positions, 'total_cost', agg.total_cost::text,
            'by_object', agg.by_object, 'by_category', agg.by_category,
            'audit', jsonb_build_object(
                'RED', agg.open_red, 'AMBER', agg.open_amber, 'GREEN', agg.open_green,
                'resolved', jsonb_build_object('RED', agg.resolved_red, 'AMBER', agg.resolved_amber),
                'unaudited', agg.unaudited))
    FROM agg WHERE v.id = $1
)
UPDATE projects
SET current_version = $3, total_positions = agg.positions, total_cost = agg.total_cost,
    issues_count_red = agg.open_red, issues_count_amber = agg.open_amber, issues_count_green = agg.open_green,
    issues_resolved_red = agg.resolved_red, issues_resolved_amber = agg.resolved_amber, updated_at = $4
FROM agg
WHERE projects.id = $5
RETURNING {returning}, agg.positions AS totals_positions, agg.total_cost AS totals_cost
"""


def _count(name: str, condition: str) -> str:
    by_verdict = f'"grouping" = {GROUPING_BY_VERDICT} AND {condition}'
    return f"coalesce(sum(positions) FILTER (WHERE {by_verdict}), 0)::integer AS {name}"


# By verdict: no status → unaudited; a resolved RED / AMBER apart; the rest open.
_COUNTS = ",\n           ".join(
    _count(name, condition)
    for name, condition in (
        ("open_red", "status = 'RED' AND NOT resolved"),
        ("open_amber", "status = 'AMBER' AND NOT resolved"),
        ("open_green", "status = 'GREEN'"),
        ("resolved_red", "status = 'RED' AND resolved"),
        ("resolved_amber", "status = 'AMBER' AND resolved"),
        ("unaudited", "status IS NULL"),
    )
)
_TOTALS_ONTO_PROJECT_BY_RESOLUTIONS = {
    resolutions: _TOTALS_ONTO_PROJECT.format(
        totals=sql,
        counts=_COUNTS,
        all=GROUPING_ALL,
        by_object=GROUPING_BY_OBJECT,
        by_category=GROUPING_BY_CATEGORY,
        returning=", ".join(f"projects.{column}" for _, column, _ in _PROJECT),
    )
    for resolutions, sql in ((True, TOTALS_DRIVER_SQL), (False, TOTALS_UNRESOLVED_DRIVER_SQL))
}


def _row_values(row: Any, columns: tuple[tuple[str, str, str], ...], json_keys: frozenset[str]) -> dict[str, Any]:
    """A driver row by model attribute (JSON(B) columns decoded)."""
    values = {key: row[column] for key, column, _ in columns}
    for key in json_keys:
        if isinstance(values[key], str):
            values[key] = _decode(values[key])
    return values


def position_of_row(row: Any) -> SimpleNamespace:
    """A position row as the planning reads it (attributes of the model's names), no ORM object."""
    return SimpleNamespace(**_row_values(row, _POSITION, _POSITION_JSON))


class EditRead(msgspec.Struct, kw_only=True):
    """What the edit found under the lock: the latest version (None before the first) and the position."""

    owner_id: uuid.UUID
    current_version: int
    version_id: uuid.UUID | None = None
    version_total_cost: Decimal = Decimal("0")
    has_resolutions: bool = True  # unknown: the query that looks resolutions up is right either way
    reference_lineage: uuid.UUID | None = None
    position: Any = None  # position_of_row(...) or None


async def lock_and_read(
    session: AsyncSession, actor: SessionUser, project_id: uuid.UUID, reference: uuid.UUID | None
) -> EditRead | None:
    """Lock the project (None: not there or not visible to `actor`), then read the latest version and
    the referenced position in it."""
    if actor.is_admin:
        locked = (await session.execute(_LOCK, {"id": project_id})).first()
    else:
        locked = (await session.execute(_LOCK_OWNED, {"id": project_id, "owner": actor.id})).first()
    if locked is None:
        return None
    owner_id, current_version = locked
    found = EditRead(owner_id=owner_id, current_version=current_version)
    if current_version == 0:
        return found
    driver = await driver_connection(session)
    rows = await driver_fetch(driver, _READ, project_id, current_version, reference)
    if rows:
        row = rows[0]
        found.version_id = row["v_id"]
        found.version_total_cost = row["v_total_cost"]
        found.has_resolutions = row["has_resolutions"]
        found.reference_lineage = row["reference_lineage"]
        found.position = position_of_row(row) if row["id"] is not None else None
    return found


async def state_generation(redis: Redis | None, project_id: uuid.UUID) -> bytes | None:
    """The generation of the project's cached state, read before the commit: the write-through after
    it stores the new state only if no other write bumped it in between (see ProjectStateWritten).
    None (no write-through, the next read loads it) when Redis cannot tell."""
    if redis is None:
        return None
    try:
        generation = await redis.get(cache.generation_key(project_state_key(project_id)))
    except RedisError:
        return None
    return generation if isinstance(generation, bytes) else str(generation or 0).encode()


class WrittenVersion(msgspec.Struct, kw_only=True):
    version: VersionSummary
    position: PositionRead | None
    # For the `budget_recalculated` event: the totals as computed (not rounded for the answer).
    total_cost: Decimal
    delta_cost: Decimal


async def write_version(
    session: AsyncSession,
    *,
    project_id: uuid.UUID,
    read: EditRead,
    user_id: uuid.UUID,
    trigger_details: dict[str, Any],
    changes: dict[str, list[dict[str, Any]]],
    excluded_lineage: uuid.UUID | None,
    new_row: tuple[uuid.UUID, uuid.UUID, dict[str, Any], datetime.datetime | None] | None,
    generation: bytes | None,
) -> WrittenVersion:
    """Write the new version: `excluded_lineage`'s row closed, `new_row` (its id, lineage, values and
    created_at) inserted, totals onto the version and the project; records the project's change with
    its new state (`generation`: see `state_generation`)."""
    driver = await driver_connection(session)
    now = utc_now()
    version_id = uuid.uuid4()
    number = read.current_version + 1
    head = [
        version_id,
        project_id,
        number,
        "user_edit",
        _encode(trigger_details).decode(),
        _encode(changes).decode(),
        user_id,
        now,
    ]
    if excluded_lineage is not None:
        head += [excluded_lineage, read.current_version]
    position: PositionRead | None = None
    if new_row is not None:
        position_id, lineage_id, values, created_at = new_row
        row = {
            **values,
            "id": position_id,
            "project_id": project_id,
            "version_id": version_id,
            "valid_from": number,
            "valid_to": OPEN_VERSION,
            "lineage_id": lineage_id,
            "created_at": created_at or now,
            "updated_at": now,
        }
        values_in_order = [
            _encode_json_numbers(row[key]).decode() if key in _POSITION_JSON else row[key] for key, _, _ in _POSITION
        ]
        if excluded_lineage is not None:
            statement, args = _INSERT_AFTER_CLOSE, [*head, *values_in_order]
        else:
            statement, args = _INSERT, [*head, *values_in_order]
        inserted = await driver_fetch(driver, statement, *args)
        position = PositionRead.from_model(position_of_row(inserted[0]))
    elif excluded_lineage is not None:
        await driver_fetch(driver, _REMOVE, *head)
    else:
        await driver_fetch(driver, _VERSION_ONLY, *head)

    # The totals and their copies onto version and project: one statement (see _TOTALS_ONTO_PROJECT).
    project_rows = await driver_fetch(
        driver,
        _TOTALS_ONTO_PROJECT_BY_RESOLUTIONS[read.has_resolutions],
        version_id,
        read.version_total_cost,
        number,
        now,
        project_id,
    )
    total_positions, total_cost = project_rows[0]["totals_positions"], project_rows[0]["totals_cost"]
    delta = total_cost - read.version_total_cost
    project: Any = SimpleNamespace(**_row_values(project_rows[0], _PROJECT, _PROJECT_JSON))
    _record_project_change(session, project, generation)
    version = VersionSummary(
        id=version_id,
        project_id=project_id,
        version=number,
        trigger_type="user_edit",
        trigger_details=trigger_details,
        total_positions=total_positions,
        total_cost=total_cost,
        delta_cost=delta,
        created_by=user_id,
        created_at=now,
    )
    return WrittenVersion(version=version, position=position, total_cost=total_cost, delta_cost=delta)


def _record_project_change(session: AsyncSession, project: Any, generation: bytes | None) -> None:
    from app.lib.unit_of_work import record

    record(
        session,
        ProjectStateWritten(project.id, project.owner_id, state=project_state_entry(project), generation=generation),
    )
