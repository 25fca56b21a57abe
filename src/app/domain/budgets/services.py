"""Versioned budgets: every change to positions makes a new, complete, immutable version.

PUBLIC for other domains (imports, audits, enrichment, chat commands):

    result = await BudgetService(session=db_session).create_version(
        project_id, "audit", {"job_id": ...},
        changes=ChangeSet(added=[...], modified={position_or_lineage_id: {"status": "RED"}}, removed=[...]),
        # or: positions=[NewPosition | PositionRecord, ...] to replace the whole budget
        #     (with replace_source_document_id=doc_id: only the positions read from that document)
        user_id=...,
    )   # the caller commits
    # -> NewVersion(version=BudgetVersion, project=Project, position_ids={lineage_id: new position id})
    answer = await budgets.edit_positions(actor, project_id, "modified", changes, details, ...)  # one position
    # -> PositionChangeResult(position=..., version=...), committed

How: the project row is locked (`SELECT ... FOR UPDATE`) so versions of one project are made one
at a time and numbered without gaps. Position rows are shared by a range of versions
(`valid_from <= version < valid_to`, see app.db.models.budgets.Position): the new version closes the
rows of the changed and removed lineages (one UPDATE of those rows), bulk-inserts the changed and
added ones, and every other row simply stays open, so an edit writes what changed, not the budget.
Totals come from one aggregate query, and the project's cached aggregates are updated in the same
transaction. The commit's unit of work (app.lib.unit_of_work) then drops the project's cache
entries and announces `budget_recalculated`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import msgspec
from advanced_alchemy.filters import LimitOffset, StatementFilter
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from redis.asyncio import Redis
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from app.db.models import BudgetVersion, Position, Project, utc_now
from app.db.models.budgets import OPEN_VERSION, TRIGGER_TYPES
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets import edits
from app.domain.budgets.changes import (
    PRICE_INTEGER_DIGITS,
    PRICE_PLACES,
    QUANTITY_INTEGER_DIGITS,
    QUANTITY_PLACES,
    TRACKED_FIELDS,
    ChangeSet,
    NewPosition,
    apply_modification,
    decimal_problem,
    field_changes,
    match_replacement,
    sign_problems,
    summary,
)
from app.domain.budgets.queries import BUDGET_ORDER, in_version, in_version_id
from app.domain.budgets.records import PositionRecord
from app.domain.budgets.schemas import PositionChangeResult, PositionRead
from app.domain.budgets.summary import summarise_version
from app.domain.projects.services import lock_project, project_not_found
from app.lib.db import copy_rows
from app.lib.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, field_error
from app.lib.events import project_channel
from app.lib.pagination import Page
from app.lib.services import RepositoryService
from app.lib.unit_of_work import LiveEvent, record

_positions: Table = Position.__table__  # type: ignore[assignment]
# A new position row by model attribute (`_COPY_KEYS`) and by column (`_COPY_COLUMNS`), for COPY.
_COPY_KEYS = tuple(Position.__mapper__.columns.keys())
_COPY_COLUMNS = tuple(Position.__mapper__.columns[key].name for key in _COPY_KEYS)
_JSON_KEYS = frozenset(key for key in _COPY_KEYS if isinstance(Position.__mapper__.columns[key].type, JSONB))
_encode_json = msgspec.json.Encoder(decimal_format="number").encode


def _json_text(value: Any) -> str:
    return _encode_json(value).decode()


PositionAction = Literal["added", "modified", "removed"]
_ACTION_VERBS: dict[str, str] = {"added": "add", "modified": "update", "removed": "delete"}


@dataclass
class NewVersion:
    version: BudgetVersion
    project: Project
    # lineage id → the position's id in the new version, for every added or modified position.
    position_ids: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    # each id a change set referred to (position id or lineage id) → its lineage id.
    lineages: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)


def position_values(position: Position) -> dict[str, Any]:
    return {name: getattr(position, name) for name in TRACKED_FIELDS}


# The column scale each amount is normalised to (quantize's exponent), built once.
_QUANTA = tuple(
    (name, Decimal(1).scaleb(-places))
    for name, places in (("quantity", QUANTITY_PLACES), ("unit_price", 2), ("total_price", 2), ("confidence", 2))
)


def validate_amounts(values: dict[str, Any], *, prefix: str = "") -> None:
    """Refuse decimals that do not fit their columns, naming the field; normalise the rest to the
    column scale so that diffs and answers show what is stored ("10" → "10.0000")."""
    errors = []
    for name, places, digits in (
        ("quantity", QUANTITY_PLACES, QUANTITY_INTEGER_DIGITS),
        ("unit_price", PRICE_PLACES, PRICE_INTEGER_DIGITS),
        ("total_price", PRICE_PLACES, PRICE_INTEGER_DIGITS),
        ("confidence", 2, 3),
    ):
        problem = decimal_problem(values.get(name), places=places, integer_digits=digits)
        if problem:
            errors.append(field_error(f"{prefix}{name}", problem))
    confidence = values.get("confidence")
    if confidence is not None and confidence.is_finite() and not Decimal(0) <= confidence <= Decimal(100):
        errors.append(field_error(f"{prefix}confidence", "must be between 0 and 100"))
    if not errors:
        errors += [field_error(f"{prefix}{name}", message) for name, message in sign_problems(values)]
    if errors:
        raise InvalidInput("Some amounts do not fit.", errors=errors)
    for name, quantum in _QUANTA:
        if values.get(name) is not None:
            values[name] = values[name].quantize(quantum)


def version_announcement(version: BudgetVersion) -> LiveEvent:
    """`budget_recalculated` for the project's live clients (published after the version's commit)."""
    return version_event(
        version.project_id,
        version.version,
        version.trigger_type,
        version.total_positions,
        version.total_cost,
        version.delta_cost,
    )


def version_event(
    project_id: uuid.UUID,
    version: int,
    trigger_type: str,
    total_positions: int,
    total_cost: Decimal,
    delta_cost: Decimal,
) -> LiveEvent:
    return LiveEvent(
        project_channel(project_id),
        "budget_recalculated",
        {
            "project_id": str(project_id),
            "version": version,
            "trigger_type": trigger_type,
            "total_positions": total_positions,
            "total_cost": str(total_cost),
            "delta_cost": str(delta_cost),
        },
    )


def version_not_found() -> NotFound:
    return NotFound("The budget version does not exist.")


def position_announcement(
    project_id: uuid.UUID,
    version: int,
    action: str,
    lineage_id: uuid.UUID,
    position_id: uuid.UUID | None,
) -> LiveEvent:
    """`position_updated` for the project's live clients: a position was added, modified or removed
    (record it with the version; it is published after the commit)."""
    return LiveEvent(
        project_channel(project_id),
        "position_updated",
        {
            "project_id": str(project_id),
            "version": version,
            "action": action,
            "lineage_id": str(lineage_id),
            "position_id": str(position_id) if position_id else None,
        },
    )


def position_not_found() -> NotFound:
    return NotFound("The position does not exist in the latest version.")


def budget_changed(current_version: int, expected_version: int) -> PreconditionFailed:
    """412 for a stale If-Match: the answer's ETag is the latest version, to reload and retry with."""
    return PreconditionFailed(
        f"The budget changed: the latest version is {current_version}, not {expected_version}. Reload and try again.",
        headers={"ETag": f'"{current_version}"'},
        extra={"current_version": current_version},
    )


class BudgetService(RepositoryService[BudgetVersion]):
    """Budget versions of a project and the one way to make a new one."""

    class Repository(SQLAlchemyAsyncRepository[BudgetVersion]):
        model_type = BudgetVersion

    repository_type = Repository

    async def version_id_by_number(self, project_id: uuid.UUID, number: int) -> uuid.UUID | None:
        """The id alone (a version row carries its whole diff: an import's lists every position)."""
        statement = select(BudgetVersion.id).where(
            BudgetVersion.project_id == project_id, BudgetVersion.version == number
        )
        return await self.db_session.scalar(statement)

    async def version_by_number(self, project_id: uuid.UUID, number: int) -> BudgetVersion | None:
        statement = select(BudgetVersion).where(BudgetVersion.project_id == project_id, BudgetVersion.version == number)
        return (await self.db_session.execute(statement)).scalar_one_or_none()

    async def create_version(
        self,
        project_id: uuid.UUID,
        trigger_type: str,
        trigger_details: dict[str, Any] | None = None,
        *,
        changes: ChangeSet | None = None,
        positions: Sequence[NewPosition | PositionRecord] | None = None,
        replace_source_document_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        actor: SessionUser | None = None,
        expected_version: int | None = None,
    ) -> NewVersion:
        """Make the next version of a project's budget from a change set or a full set of positions.

        `actor` limits the project to what that user may see (404 otherwise); background work passes
        None. `expected_version` (If-Match) must equal the latest version, else 412. The caller
        commits; the version's `budget_recalculated` event (and the project's cache and mirror, see
        app.domain.projects.changes) follow that commit.
        """
        if trigger_type not in TRIGGER_TYPES:
            raise InvalidInput(
                f"Unknown trigger type {trigger_type!r}.", errors=[field_error("trigger_type", "unknown")]
            )
        if (changes is None) == (positions is None):
            raise ValueError("give either a change set or a full set of positions")
        session = self.db_session
        project = await lock_project(session, actor, project_id)
        if expected_version is not None and expected_version != project.current_version:
            raise budget_changed(project.current_version, expected_version)
        previous = await self.version_by_number(project.id, project.current_version)
        if changes is not None:
            plan = await self._plan_change_set(project.id, previous, changes)
        else:
            assert positions is not None
            new_positions = [
                p
                if isinstance(p, NewPosition)
                else NewPosition.from_record(p, source_document_id=replace_source_document_id)
                for p in positions
            ]
            plan = await self._plan_replacement(previous, new_positions, replace_source_document_id)

        # Every refusal (unknown position, amounts that do not fit) happens above, before any write.
        new_version = BudgetVersion(
            id=uuid.uuid4(),
            project_id=project.id,
            version=project.current_version + 1,
            trigger_type=trigger_type,
            trigger_details=trigger_details or {},
            created_by=user_id,
        )
        session.add(new_version)
        await session.flush()

        now = utc_now()
        if previous is not None and plan.excluded_lineages:
            await self._close_positions(project.id, previous.version, new_version.version, plan.excluded_lineages)
        records = []
        for lineage_id, values, created_at in plan.rows:
            position_id = uuid.uuid4()
            plan.position_ids[lineage_id] = position_id
            row = {
                **values,
                "id": position_id,
                "project_id": project.id,
                "version_id": new_version.id,
                "valid_from": new_version.version,
                "valid_to": OPEN_VERSION,
                "lineage_id": lineage_id,
                "created_at": created_at or now,
                "updated_at": now,
            }
            records.append(tuple(_json_text(row[key]) if key in _JSON_KEYS else row[key] for key in _COPY_KEYS))
        # One COPY: an imported budget writes thousands of positions (an INSERT per row cost ~3× as much).
        await copy_rows(session, "positions", _COPY_COLUMNS, records)
        for entry in plan.changes["added"]:
            entry["position_id"] = str(plan.position_ids[uuid.UUID(entry["lineage_id"])])
        for entry in plan.changes["modified"]:
            entry["position_id"] = str(plan.position_ids[uuid.UUID(entry["lineage_id"])])

        totals = await summarise_version(session, new_version)
        new_version.total_positions = totals.positions
        new_version.total_cost = totals.total_cost
        new_version.delta_cost = totals.total_cost - (previous.total_cost if previous is not None else Decimal("0"))
        new_version.changes = plan.changes
        project.current_version = new_version.version
        totals.apply_to(project)
        record(session, version_announcement(new_version))
        return NewVersion(version=new_version, project=project, position_ids=plan.position_ids, lineages=plan.lineages)

    async def edit_positions(
        self,
        actor: SessionUser,
        project_id: uuid.UUID,
        action: PositionAction,
        changes: ChangeSet,
        details: dict[str, Any],
        *,
        expected_version: int | None,
        redis: Redis | None = None,
    ) -> PositionChangeResult:
        """A user's edit of ONE position → a committed version (trigger `user_edit`) and a
        `position_updated` event; returns the position as it is in the new version (None when removed)
        and the version. The rules of `create_version`, in a handful of statements (app.domain.budgets.edits);
        `redis` lets the project's new state be written through to the cache with the commit's
        invalidation (without it the next read loads it)."""
        if len(changes.added) + len(changes.modified) + len(changes.removed) != 1:
            raise ValueError("edit_positions changes exactly one position")
        session = self.db_session
        reference = None if action == "added" else next(iter(changes.referenced_ids()))
        found = await edits.lock_and_read(session, actor, project_id, reference)
        if found is None:
            raise project_not_found()
        if expected_version is not None and expected_version != found.current_version:
            raise budget_changed(found.current_version, expected_version)
        by_reference: dict[uuid.UUID, Any] = {}
        if reference is not None:
            if found.version_id is None:
                raise position_not_found()
            if found.position is None:
                raise await self._position_gone(project_id, reference, found.reference_lineage or reference)
            by_reference[reference] = found.position
        plan = plan_change_set(by_reference, changes)
        new_row = None
        if plan.rows:
            lineage_id, values, created_at = plan.rows[0]
            position_id = uuid.uuid4()
            new_row = (position_id, lineage_id, values, created_at)
            for entry in (*plan.changes["added"], *plan.changes["modified"]):
                entry["position_id"] = str(position_id)
        # Read before the commit (the write-through's condition, see edits.state_generation).
        generation = await edits.state_generation(redis, project_id)
        written = await edits.write_version(
            session,
            project_id=project_id,
            read=found,
            user_id=actor.id,
            trigger_details={"action": f"{_ACTION_VERBS[action]}_position", **details},
            changes=plan.changes,
            excluded_lineage=next(iter(plan.excluded_lineages), None),
            new_row=new_row,
            generation=generation,
        )
        version = written.version
        position = written.position
        if position is None and found.position is not None and action != "removed":  # nothing changed
            position = PositionRead.from_model(found.position)
        if action == "added":
            lineage = plan.rows[0][0]
        else:
            assert reference is not None
            lineage = plan.lineages[reference]
        record(
            session,
            version_event(
                project_id,
                version.version,
                version.trigger_type,
                version.total_positions,
                written.total_cost,
                written.delta_cost,
            ),
        )
        record(
            session,
            position_announcement(project_id, version.version, action, lineage, position.id if position else None),
        )
        await session.commit()
        return PositionChangeResult(position=position, version=version)

    async def position_in_version(self, version_id: uuid.UUID, lineage_id: uuid.UUID) -> Position | None:
        statement = select(Position).where(in_version_id(version_id), Position.lineage_id == lineage_id)
        return (await self.db_session.execute(statement)).scalar_one_or_none()

    async def _close_positions(self, project_id: uuid.UUID, previous: int, new: int, lineages: set[uuid.UUID]) -> None:
        """End these lineages' rows of the previous version at the new one (they are changed or removed);
        every other row of the previous version stays open and so belongs to the new version too."""
        excluded = bindparam("lineages", list(lineages), type_=ARRAY(PG_UUID(as_uuid=True)))
        statement = (
            update(_positions)
            .where(
                _positions.c.lineage_id == excluded.any_(),
                _positions.c.project_id == project_id,
                _positions.c.valid_to > previous,
                _positions.c.valid_from <= previous,
            )
            # Ending a row's range is not an edit of it: updated_at (an ORM onupdate) stays as it was.
            .values(valid_to=new, updated_at=_positions.c.updated_at)
        )
        await self.db_session.execute(statement, execution_options={"synchronize_session": False})

    async def _plan_change_set(
        self, project_id: uuid.UUID, previous: BudgetVersion | None, changes: ChangeSet
    ) -> _Plan:
        referenced = changes.referenced_ids()
        by_reference: dict[uuid.UUID, Position] = {}
        if referenced:
            if previous is None:
                raise position_not_found()
            by_reference = await self._latest_by_reference(project_id, previous, referenced)
        return plan_change_set(by_reference, changes)

    async def _latest_by_reference(
        self, project_id: uuid.UUID, latest: BudgetVersion, references: set[uuid.UUID]
    ) -> dict[uuid.UUID, Position]:
        """Each reference → its lineage's position in the latest version.

        A reference is a lineage id or the id of a position in ANY version of the project, so a list a
        client read before other edits stays usable. A lineage the latest version no longer has was
        removed (404) or replaced by a re-import (409, naming the position that replaced it).
        """
        session = self.db_session
        lineage_of = {reference: reference for reference in references}
        known = select(Position.id, Position.lineage_id).where(
            Position.project_id == project_id, Position.id.in_(list(references))
        )
        for position_id, lineage_id in (await session.execute(known)).all():
            lineage_of[position_id] = lineage_id
        current = select(Position).where(in_version(latest), Position.lineage_id.in_(set(lineage_of.values())))
        by_lineage = {position.lineage_id: position for position in (await session.execute(current)).scalars()}
        for reference in sorted(references):
            if lineage_of[reference] not in by_lineage:
                raise await self._position_gone(project_id, reference, lineage_of[reference])
        return {reference: by_lineage[lineage_of[reference]] for reference in references}

    async def _position_gone(
        self, project_id: uuid.UUID, reference: uuid.UUID, lineage_id: uuid.UUID
    ) -> NotFound | Conflict:
        """Why a lineage is not in the latest version: never there (404), removed (404) or replaced (409)."""
        session = self.db_session
        # The lineage's last row: it ended (valid_to) in the version that removed or replaced it.
        last_seen = (
            await session.execute(
                select(Position.valid_to, Position.code)
                .where(Position.project_id == project_id, Position.lineage_id == lineage_id)
                .order_by(Position.valid_to.desc())
                .limit(1)
            )
        ).one_or_none()
        if last_seen is None:
            return NotFound(f"Position {reference} does not exist in this project.")
        number, code = last_seen
        removed_in = await self.version_by_number(project_id, number)
        successor = None
        if removed_in is not None and code:
            # A re-import that could not match the row kept its code on the new position.
            successor = next(
                (added for added in removed_in.changes.get("added", []) if added.get("code") == code), None
            )
        if removed_in is not None and successor is not None:
            return Conflict(
                f"Position {reference} was replaced in version {number} (trigger {removed_in.trigger_type}); "
                f"edit its successor {successor['lineage_id']} instead.",
                extra={"removed_in_version": number, "replaced_by": successor["lineage_id"]},
            )
        return NotFound(
            f"Position {reference} was removed in version {number}; it is not in the latest version.",
            extra={"removed_in_version": number},
        )

    async def _plan_replacement(
        self,
        previous: BudgetVersion | None,
        new_positions: list[NewPosition],
        source_document_id: uuid.UUID | None,
    ) -> _Plan:
        plan = _Plan()
        old: dict[uuid.UUID, Position] = {}
        if previous is not None:
            statement = select(Position).where(in_version(previous))
            if source_document_id is not None:
                statement = statement.where(Position.source_document_id == source_document_id)
            old = {p.lineage_id: p for p in (await self.db_session.execute(statement)).scalars()}
        plan.excluded_lineages.update(old)
        matched = match_replacement({k: position_values(v) for k, v in old.items()}, new_positions)
        continued: set[uuid.UUID] = set()
        for index, (lineage_id, new) in enumerate(matched):
            values = new.column_values()
            validate_amounts(values, prefix=f"positions[{index}].")
            if lineage_id is None:
                lineage_id = uuid.uuid4()
                plan.rows.append((lineage_id, values, None))
                plan.changes["added"].append(summary(values, lineage_id=lineage_id, position_id=lineage_id))
                continue
            continued.add(lineage_id)
            before_position = old[lineage_id]
            diff = field_changes(position_values(before_position), values)
            if not diff:
                # The same content (every column): the new version shares the row, nothing is written.
                plan.excluded_lineages.discard(lineage_id)
                plan.position_ids[lineage_id] = before_position.id
                continue
            plan.rows.append((lineage_id, values, before_position.created_at))
            plan.changes["modified"].append(
                {
                    "lineage_id": str(lineage_id),
                    "position_id": None,
                    "previous_position_id": str(before_position.id),
                    "code": values.get("code"),
                    "description": values.get("description"),
                    "fields": diff,
                }
            )
        for lineage_id, position in old.items():
            if lineage_id not in continued:
                plan.changes["removed"].append(
                    summary(position_values(position), lineage_id=lineage_id, position_id=position.id)
                )
        return plan


@dataclass
class _Plan:
    """What a new version does: lineages not copied, rows to insert, and the `changes` record."""

    excluded_lineages: set[uuid.UUID] = field(default_factory=set)
    rows: list[tuple[uuid.UUID, dict[str, Any], Any]] = field(default_factory=list)
    changes: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"added": [], "removed": [], "modified": []}
    )
    position_ids: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    lineages: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)


def plan_change_set(by_reference: Mapping[uuid.UUID, Any], changes: ChangeSet) -> _Plan:
    """What a change set does to the latest version; `by_reference`: each referenced id → its lineage's
    position in the latest version (a Position, or any object with its attributes). Pure: refusals
    (amounts that do not fit, changed and removed at once) raise before anything is written."""
    plan = _Plan()
    plan.lineages = {reference: position.lineage_id for reference, position in by_reference.items()}
    removed_lineages: set[uuid.UUID] = set()
    for reference in changes.removed:
        position = by_reference[reference]
        if position.lineage_id in removed_lineages:
            continue
        removed_lineages.add(position.lineage_id)
        plan.excluded_lineages.add(position.lineage_id)
        plan.changes["removed"].append(
            summary(position_values(position), lineage_id=position.lineage_id, position_id=position.id)
        )
    for reference, change in changes.modified.items():
        position = by_reference[reference]
        if position.lineage_id in removed_lineages:
            raise InvalidInput("A position cannot be changed and removed in one version.")
        before = position_values(position)
        # The sent amounts first: a line total is derived from them (Infinity, 1e309 → 400, not a crash).
        validate_amounts(dict(change))
        try:
            after = apply_modification(before, change)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        validate_amounts(after)
        diff = field_changes(before, after)
        if not diff:
            continue
        plan.excluded_lineages.add(position.lineage_id)
        plan.rows.append((position.lineage_id, after, position.created_at))
        plan.changes["modified"].append(
            {
                "lineage_id": str(position.lineage_id),
                "position_id": None,
                "previous_position_id": str(position.id),
                "code": after.get("code"),
                "description": after.get("description"),
                "fields": diff,
            }
        )
    for index, new in enumerate(changes.added):
        prefix = f"added[{index}]." if len(changes.added) > 1 else ""
        validate_amounts(msgspec.structs.asdict(new), prefix=prefix)  # before the total is derived
        values = new.column_values()
        validate_amounts(values, prefix=prefix)
        lineage_id = uuid.uuid4()
        plan.rows.append((lineage_id, values, None))
        plan.changes["added"].append(summary(values, lineage_id=lineage_id, position_id=lineage_id))
    return plan


class PositionService(RepositoryService[Position]):
    """Reading positions of a version (changes go through BudgetService.create_version)."""

    class Repository(SQLAlchemyAsyncRepository[Position]):
        model_type = Position

    repository_type = Repository

    async def list_in_version(
        self, version_id: uuid.UUID, filters: list[StatementFilter], limit_offset: LimitOffset
    ) -> Page[PositionRead]:
        rows, total = await self.get_many_and_count(
            *filters,
            in_version_id(version_id),
            limit_offset,
            order_by=list(BUDGET_ORDER),
        )
        # A row is shared by the versions of its range (its version_id is the one that wrote it): the
        # list says the version it was read from.
        return Page(
            items=[msgspec.structs.replace(PositionRead.from_model(row), version_id=version_id) for row in rows],
            total=total,
            limit=limit_offset.limit,
            offset=limit_offset.offset,
        )
