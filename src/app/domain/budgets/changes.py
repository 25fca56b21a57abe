"""Pure rules of budget versions: money rounding, the change set a new version applies, and diffs.

No database here: services feed these functions plain values and store what they return.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec

from app.domain.budgets.records import PositionRecord

CENT = Decimal("0.01")
QUANTITY_PLACES = 4
PRICE_PLACES = 2
# Numeric(15, 4) and Numeric(15, 2): digits left of the point.
QUANTITY_INTEGER_DIGITS = 11
PRICE_INTEGER_DIGITS = 13

# Position fields a change may set and a diff compares (column attribute names).
TRACKED_FIELDS = (
    "position_number",
    "code",
    "description",
    "category",
    "unit",
    "quantity",
    "unit_price",
    "total_price",
    "status",
    "confidence",
    "source",
    "source_document_id",
    "source_line",
    "enrichment",
    "metadata_",
    "notes",
)


def round_money(value: Decimal) -> Decimal:
    """Half-up to the cent, the rounding of Czech budgets."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_total(quantity: Decimal | None, unit_price: Decimal | None) -> Decimal | None:
    """quantity × unit price rounded half-up to 0.01; None when either is missing."""
    if quantity is None or unit_price is None:
        return None
    return round_money(quantity * unit_price)


def decimal_problem(value: Decimal | None, *, places: int, integer_digits: int) -> str | None:
    """Why a decimal does not fit its column (None when it fits)."""
    if value is None:
        return None
    if not value.is_finite():
        return "must be a finite number"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return f"must have at most {places} decimal places"
    # |value| >= 10^n read off the exponent of its first digit: arithmetic (abs) on a decimal past the
    # context's exponent range ("1E+1000000" is valid JSON for msgspec) raises decimal.Overflow.
    if value and value.adjusted() >= integer_digits:
        return f"must be smaller than 10^{integer_digits}"
    return None


def sign_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for each amount whose sign breaks the rule of Czech budgets (README: "Negative
    amounts"): a negative quantity is less work (méněpráce, odpočet) at a normal price; a negative unit
    price is a deduction or credit (sleva, dobropis) for a positive quantity; never both, and a total
    sent with them has the sign of quantity × unit price. A total alone may be negative (a lump credit)."""
    quantity, unit_price, total = values.get("quantity"), values.get("unit_price"), values.get("total_price")
    if not all(v is None or (isinstance(v, Decimal) and v.is_finite()) for v in (quantity, unit_price, total)):
        return []  # not numbers yet: decimal_problem names them
    problems: list[tuple[str, str]] = []
    if quantity is not None and unit_price is not None and quantity < 0 and unit_price < 0:
        message = "a line is negative in its quantity (méněpráce) or in its unit price (sleva), not in both"
        problems += [("quantity", message), ("unit_price", message)]
    elif quantity is not None and unit_price is not None and total is not None:
        product = quantity * unit_price
        if product and total and (product < 0) != (total < 0):
            problems.append(("total_price", "must have the sign of quantity × unit_price"))
    return problems


class NewPosition(msgspec.Struct, kw_only=True):
    """The values of a position that a version adds (or a full set of positions that replaces the budget)."""

    description: str
    position_number: str | None = None
    code: str | None = None
    category: str | None = None
    unit: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    total_price: Decimal | None = None
    status: str | None = None
    confidence: Decimal | None = None
    source: str = "manual"
    source_document_id: uuid.UUID | None = None
    source_line: int | None = None
    enrichment: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    notes: str | None = None
    # Keep the identity of an existing position (imports that recognise a row); None = a new lineage.
    lineage_id: uuid.UUID | None = None

    @classmethod
    def from_record(
        cls, record: PositionRecord, *, source: str = "uploaded", source_document_id: uuid.UUID | None = None
    ) -> NewPosition:
        """A parser's record as a position; what has no column of its own goes to metadata."""
        metadata = dict(record.metadata)
        for name in ("full_description", "object_code", "object_name", "catalog", "item_type"):
            value = getattr(record, name)
            if value is not None:
                metadata[name] = value
        if record.measurements:
            metadata["measurements"] = list(record.measurements)
        return cls(
            description=record.description,
            position_number=record.position_number,
            code=record.code,
            category=record.category,
            unit=record.unit,
            quantity=record.quantity,
            unit_price=record.unit_price,
            total_price=record.total_price,
            source=source,
            source_document_id=source_document_id,
            source_line=record.source_line,
            metadata=metadata,
        )

    def column_values(self) -> dict[str, Any]:
        """Values by model attribute, with the line total filled in when it was not given."""
        total = self.total_price if self.total_price is not None else line_total(self.quantity, self.unit_price)
        return {
            "position_number": self.position_number,
            "code": self.code,
            "description": self.description,
            "category": self.category,
            "unit": self.unit,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "total_price": total,
            "status": self.status,
            "confidence": self.confidence,
            "source": self.source,
            "source_document_id": self.source_document_id,
            "source_line": self.source_line,
            "enrichment": self.enrichment,
            "metadata_": self.metadata,
            "notes": self.notes,
        }


class ChangeSet(msgspec.Struct, kw_only=True):
    """What a new version changes relative to the latest one.

    `modified` and `removed` are keyed by a position's id in the latest version OR its lineage id.
    `modified` values are model attribute names (`metadata_` for metadata); when quantity or unit
    price changes and total_price is not given, the line total is recomputed.
    """

    added: list[NewPosition] = msgspec.field(default_factory=list)
    modified: dict[uuid.UUID, dict[str, Any]] = msgspec.field(default_factory=dict)
    removed: list[uuid.UUID] = msgspec.field(default_factory=list)

    def referenced_ids(self) -> set[uuid.UUID]:
        return set(self.modified) | set(self.removed)


def apply_modification(before: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """The full values of a position after a change (tracked fields only)."""
    unknown = set(change) - set(TRACKED_FIELDS)
    if unknown:
        raise ValueError(f"unknown position fields: {', '.join(sorted(unknown))}")
    after = {name: before.get(name) for name in TRACKED_FIELDS}
    after.update(change)
    if ("quantity" in change or "unit_price" in change) and "total_price" not in change:
        after["total_price"] = line_total(after["quantity"], after["unit_price"])
    return after


def json_value(value: Any) -> Any:
    """A value as it appears in a version's `changes` JSON (decimals and ids as strings)."""
    return msgspec.to_builtins(value)


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {before, after}} for each tracked field that differs (metadata is named `metadata`)."""
    diff: dict[str, dict[str, Any]] = {}
    for name in TRACKED_FIELDS:
        old, new = before.get(name), after.get(name)
        if isinstance(old, Decimal) and isinstance(new, Decimal):
            equal = old == new
        else:
            equal = json_value(old) == json_value(new)
        if not equal:
            diff[name.rstrip("_")] = {"before": json_value(old), "after": json_value(new)}
    return diff


def summary(values: Mapping[str, Any], *, lineage_id: uuid.UUID, position_id: uuid.UUID) -> dict[str, Any]:
    """How an added or removed position is named in `changes`."""
    return {
        "lineage_id": str(lineage_id),
        "position_id": str(position_id),
        "code": values.get("code"),
        "description": values.get("description"),
        "total_price": json_value(values.get("total_price")),
    }


def _match_key(values: Mapping[str, Any], fields: tuple[str, ...]) -> tuple[Any, ...] | None:
    key = tuple(values.get(name) for name in fields)
    return key if any(part not in (None, "") for part in key) else None


def match_replacement(
    old: Mapping[uuid.UUID, Mapping[str, Any]], new: Iterable[NewPosition]
) -> list[tuple[uuid.UUID | None, NewPosition]]:
    """Give each position of a full replacement the lineage of the old position it continues.

    A new position continues an old one when both share a key that is unique on both sides:
    first (position_number, code), then (code, description). The rest start new lineages.
    """
    pending = list(new)
    assigned: dict[int, uuid.UUID] = {}
    free = dict(old)
    for index, position in enumerate(pending):
        if position.lineage_id is not None and position.lineage_id in free:
            assigned[index] = position.lineage_id
            free.pop(position.lineage_id)
    for fields in (("position_number", "code"), ("code", "description")):
        new_keys = {i: _match_key(p.column_values(), fields) for i, p in enumerate(pending) if i not in assigned}
        old_keys = {lineage: _match_key(values, fields) for lineage, values in free.items()}
        new_counts = Counter(k for k in new_keys.values() if k is not None)
        old_counts = Counter(k for k in old_keys.values() if k is not None)
        by_key = {k: lineage for lineage, k in old_keys.items() if k is not None and old_counts[k] == 1}
        for index, key in new_keys.items():
            if key is not None and new_counts[key] == 1 and key in by_key:
                assigned[index] = by_key[key]
                free.pop(by_key[key])
    return [(assigned.get(index), position) for index, position in enumerate(pending)]
