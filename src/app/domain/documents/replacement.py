"""The change set that replaces one group of positions (a document's, or the generated ones) in the latest version.

Why not BudgetService's full-replacement mode: it always makes a version, even when nothing changed.
Here a re-parse of an unchanged file (or a regeneration from unchanged drawings) yields an EMPTY
change set, and the caller makes no version at all — the effect of running it twice is that of once.

A new position continues an old one by the budgets domain's own rules (`match_replacement`); an
unchanged position is left alone (its audit status and enrichment stay), a changed one gets its new
content and the new position's status, confidence and enrichment (for a parsed file: none — the
old audit of other content is stale).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import BudgetVersion, Position, Project
from app.domain.budgets.changes import ChangeSet, NewPosition, json_value, match_replacement
from app.domain.budgets.queries import in_version

# What a source file (or a generator) decides about a position; status, confidence and enrichment
# belong to the audit and the enrichment of that content and are replaced when it changes.
CONTENT_FIELDS = (
    "position_number",
    "code",
    "description",
    "category",
    "unit",
    "quantity",
    "unit_price",
    "total_price",
    "source",
    "source_document_id",
    "source_line",
    "metadata_",
    "notes",
)


async def latest_positions(
    session: AsyncSession,
    project: Project,
    *,
    source_document_id: uuid.UUID | None = None,
    source: str | None = None,
) -> list[Position]:
    """Positions of the project's latest version that came from one document or one source (one query)."""
    statement = (
        select(Position)
        .join(BudgetVersion, in_version(BudgetVersion))
        .where(BudgetVersion.project_id == project.id, BudgetVersion.version == project.current_version)
    )
    if source_document_id is not None:
        statement = statement.where(Position.source_document_id == source_document_id)
    if source is not None:
        statement = statement.where(Position.source == source)
    return list((await session.scalars(statement)).all())


def _content(values: dict[str, Any]) -> dict[str, Any]:
    return {name: values.get(name) for name in CONTENT_FIELDS}


def _same(before: Any, after: Any) -> bool:
    """Equal values; decimals by value (the column's scale must not make 45.600 differ from 45.6000)."""
    if isinstance(before, Decimal) and isinstance(after, Decimal):
        return before == after
    return bool(json_value(before) == json_value(after))


def replacement_changes(old: Sequence[Position], new: Sequence[NewPosition]) -> ChangeSet:
    """Added, modified (changed fields only) and removed positions that turn `old` into `new`."""
    old_values = {position.lineage_id: {name: getattr(position, name) for name in CONTENT_FIELDS} for position in old}
    changes = ChangeSet()
    continued: set[uuid.UUID] = set()
    for lineage_id, position in match_replacement(old_values, new):
        after = _content(position.column_values())
        if lineage_id is None:
            changes.added.append(position)
            continue
        continued.add(lineage_id)
        before = old_values[lineage_id]
        changed = {name: value for name, value in after.items() if not _same(before.get(name), value)}
        if changed:
            changes.modified[lineage_id] = {
                **changed,
                "status": position.status,
                "confidence": position.confidence,
                "enrichment": position.enrichment,
            }
    changes.removed.extend(lineage for lineage in old_values if lineage not in continued)
    return changes


def is_empty(changes: ChangeSet) -> bool:
    return not (changes.added or changes.modified or changes.removed)
