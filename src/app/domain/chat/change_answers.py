"""Answers about what changed: the diff between two versions' positions, by lineage.

Pure. A version's own change (version 5 against 4) and a span of versions (3 → 5, or everything
since yesterday) are the same computation: positions of the older and the newer version paired by
lineage, compared field by field with the budget domain's `field_changes`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.budgets.changes import TRACKED_FIELDS, field_changes
from app.domain.chat.answers import (
    LIST_LINES,
    MentionedPosition,
    Reply,
    answer_context,
    say,
    scope_phrase,
    source_text,
)
from app.domain.chat.budget_view import PositionRow, select, total_of
from app.domain.chat.intents import Intent
from app.domain.chat.language import format_money, format_number

# What a person calls a change of a position (status and confidence are the audit's annotations).
COMPARED_FIELDS = tuple(
    name for name in TRACKED_FIELDS if name in PositionRow.__dataclass_fields__ and name != "status"
)
_FIELD_NAMES = {
    "position_number": ("číslo", "number"),
    "code": ("kód", "code"),
    "description": ("popis", "description"),
    "category": ("díl", "section"),
    "unit": ("MJ", "unit"),
    "quantity": ("množství", "quantity"),
    "unit_price": ("j. cena", "unit price"),
    "total_price": ("cena celkem", "total"),
}


@dataclass
class Diff:
    added: list[PositionRow] = field(default_factory=list)
    removed: list[PositionRow] = field(default_factory=list)
    modified: list[tuple[PositionRow, PositionRow, dict[str, dict[str, Any]]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.modified)


def _values(row: PositionRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in COMPARED_FIELDS}


def diff_rows(old: Sequence[PositionRow], new: Sequence[PositionRow]) -> Diff:
    """Added, removed and modified positions between two versions (paired by lineage)."""
    before = {row.lineage_id: row for row in old}
    after = {row.lineage_id: row for row in new}
    diff = Diff()
    for lineage_id, row in after.items():
        previous = before.get(lineage_id)
        if previous is None:
            diff.added.append(row)
            continue
        before_values, after_values = _values(previous), _values(row)
        if before_values == after_values:
            continue  # most positions of two versions are the same: skip the field-by-field diff
        changed = field_changes(before_values, after_values)
        if changed:
            diff.modified.append((previous, row, changed))
    diff.removed = [row for lineage_id, row in before.items() if lineage_id not in after]
    return diff


def since_moment(since: str, now: datetime.datetime) -> datetime.datetime | None:
    """ "yesterday" → yesterday 00:00 UTC, "today", "7d", "2026-11-20", "*-11-20" (this year, or last year if
    that is still ahead). None when the date does not exist."""
    today = now.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if since == "today":
        return today
    if since == "yesterday":
        return today - datetime.timedelta(days=1)
    if match := re.fullmatch(r"(\d{1,3})d", since):
        return now - datetime.timedelta(days=int(match.group(1)))
    year_text, month, day = since.split("-")
    try:
        year = now.year if year_text == "*" else int(year_text)
        moment = datetime.datetime(year, int(month), int(day), tzinfo=datetime.UTC)
        if year_text == "*" and moment > now:
            moment = moment.replace(year=year - 1)
    except ValueError:
        return None
    return moment


def _change_line(before: PositionRow, after: PositionRow, changed: dict[str, dict[str, Any]], language: str) -> str:
    parts = []
    for name, values in changed.items():
        cs, en = _FIELD_NAMES.get(name, (name, name))
        old, new = values["before"], values["after"]
        if name in ("unit_price", "total_price"):
            old = format_money(Decimal(old), language) if old is not None else "—"
            new = format_money(Decimal(new), language) if new is not None else "—"
        elif name == "quantity":
            old = format_number(Decimal(old), language, 4) if old is not None else "—"
            new = format_number(Decimal(new), language, 4) if new is not None else "—"
        parts.append(f"{say(language, cs, en)} {old if old is not None else '—'} → {new if new is not None else '—'}")
    label = " ".join(p for p in (after.code, after.description[:60]) if p)
    if after.object_code:
        label += f" ({after.object_code})"
    return f"~ {label}: " + ", ".join(parts)


def _row_label(row: PositionRow, language: str) -> str:
    label = " ".join(p for p in (row.code, row.description[:60]) if p)
    if row.object_code:
        label += f" ({row.object_code})"
    if row.total_price is not None:
        label += f" = {format_money(row.total_price, language)}"
    return label


def answer_changes(
    intent: Intent,
    *,
    from_version: int,
    to_version: int,
    old: Sequence[PositionRow],
    new: Sequence[PositionRow],
    heading_cs: str,
    heading_en: str,
    versions_between: list[dict[str, Any]] | None = None,
) -> Reply:
    """What changed from one version to another, within the intent's scope (object, code, terms)."""
    language = intent.language
    scope_intent = intent
    old_scoped = select(old, scope_intent)
    new_scoped = select(new, scope_intent)
    filters = new_scoped.filters
    diff = diff_rows(old_scoped.rows, new_scoped.rows)
    delta = total_of(new_scoped.rows) - total_of(old_scoped.rows)
    scope = scope_phrase(filters, language)
    heading = say(language, heading_cs, heading_en) + (f" ({scope})" if scope else "")
    if diff.empty:
        text = heading + ": " + say(language, "žádné změny položek.", "no position changed.")
    else:
        sign = "+" if delta > 0 else ""
        text = (
            heading
            + ": "
            + say(
                language,
                f"přidáno {len(diff.added)}, odebráno {len(diff.removed)}, změněno {len(diff.modified)}; "
                f"rozdíl ceny {sign}{format_money(delta, language)}.",
                f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.modified)} modified; "
                f"cost delta {sign}{format_money(delta, language)}.",
            )
        )
        listed = 0
        for row in diff.added[:LIST_LINES]:
            text += f"\n+ {_row_label(row, language)}"
            listed += 1
        for row in diff.removed[: max(0, LIST_LINES - listed)]:
            text += f"\n- {_row_label(row, language)}"
            listed += 1
        for before, after, changed in diff.modified[: max(0, LIST_LINES - listed)]:
            text += "\n" + _change_line(before, after, changed, language)
            listed += 1
        total = len(diff.added) + len(diff.removed) + len(diff.modified)
        if total > listed:
            text += "\n" + say(language, f"… a dalších {total - listed}.", f"… and {total - listed} more.")
    mentioned = diff.added[:LIST_LINES] + [after for _, after, _ in diff.modified[:LIST_LINES]]
    data = {
        "from_version": from_version,
        "to_version": to_version,
        "added": len(diff.added),
        "removed": len(diff.removed),
        "modified": len(diff.modified),
        "delta_cost": str(delta),
        "removed_positions": [
            {"lineage_id": str(row.lineage_id), "code": row.code, "description": row.description}
            for row in diff.removed[:LIST_LINES]
        ],
    }
    if versions_between is not None:
        data["versions"] = versions_between
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source_text(
            f"positions of versions {from_version} and {to_version}: "
            f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.modified)} modified"
        ),
        context=answer_context(to_version, intent, filters, from_version=from_version, to_version=to_version),
        positions=[MentionedPosition.of(row) for row in mentioned[:LIST_LINES]],
        data=data,
    )
