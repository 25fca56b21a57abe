"""Validator: is the position complete and arithmetically right?

RED only where the file proves money wrong: total ≠ quantity × unit price beyond rounding, or a
priced position (a unit price or total above zero) without a unit or a quantity. AMBER: no
description, a quantity of zero, an unpriced position in a priced budget, a true duplicate (same
code, description and quantity in the same object). Information: an unknown unit, a negative
quantity (méněpráce) or unit price (a credit line). In an unpriced (tender) budget missing prices
are not flagged position by position.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from app.domain.audits.experts.contract import (
    AMBER,
    GREEN,
    RED,
    AuditContext,
    AuditPosition,
    Issue,
    RuleExpert,
    Verdict,
    has_price,
    worst,
)
from app.domain.kb.codes import normalize_code
from app.domain.kb.units import is_known_unit

ROLE = "validator"
_DUPLICATES_SHOWN = 10


def check(positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
    """One verdict per position; duplicates are found across the whole budget."""
    duplicates = _duplicate_groups(positions)
    return [_verdict(position, context, duplicates.get(position.id)) for position in positions]


def _verdict(position: AuditPosition, context: AuditContext, group: list[str] | None) -> Verdict:
    issues: list[Issue] = []
    evidence: dict[str, object] = {}
    settings = context.settings

    if not (position.description or "").strip():
        issues.append(
            Issue(
                type="missing_description",
                severity=AMBER,
                description="The position has no description.",
                suggestion="Add the catalogue description of the work.",
            )
        )

    priced = has_price(position)
    quantity = position.quantity
    if quantity is None:
        issues.append(
            Issue(
                type="missing_quantity",
                severity=RED if priced else AMBER,
                description="The position has no quantity."
                + (" It is priced, so its total is unfounded." if priced else ""),
                suggestion="Fill in the quantity from the výkaz výměr.",
            )
        )
    elif quantity == 0:
        issues.append(
            Issue(
                type="zero_quantity",
                severity=AMBER,
                description="The quantity is 0: the position adds nothing to the budget.",
                suggestion="Check the výkaz výměr; remove the position if the work is not needed.",
            )
        )
    elif quantity < 0:
        issues.append(
            Issue(
                type="negative_quantity",
                severity=GREEN,
                description=f"The quantity {quantity} is negative: less work (méněpráce) in a change order.",
            )
        )

    if not (position.unit or "").strip():
        issues.append(
            Issue(
                type="missing_unit",
                severity=RED if priced else AMBER,
                description="The position has no unit of measure."
                + (" It is priced, so its price means nothing." if priced else ""),
                suggestion="Add the catalogue unit (m3, m2, t, kus …).",
            )
        )
    elif not is_known_unit(position.unit):
        issues.append(
            Issue(
                type="unknown_unit",
                severity=GREEN,
                description=f"The unit {position.unit!r} is not a known unit of measure.",
                suggestion="Use a standard unit such as m3, m2, m, t, kg, kus, kpl, h.",
            )
        )

    price = position.unit_price
    if context.priced and (price is None or price == 0):
        issues.append(
            Issue(
                type="missing_unit_price",
                severity=AMBER,
                description="The budget is priced but this position has no unit price.",
                suggestion="Price the position or explain why it is free of charge.",
            )
        )
    elif price is not None and price < 0:
        issues.append(
            Issue(
                type="negative_unit_price",
                severity=GREEN,
                description=f"The unit price {price} is negative: a deduction or credit line (sleva, dobropis).",
            )
        )

    total = position.total_price
    if total is not None and quantity is not None and price is not None:
        expected = quantity * price
        tolerance = settings.total_tolerance + abs(price) * settings.quantity_step / 2
        if abs(total - expected) > tolerance:
            evidence["expected_total"] = str(expected.quantize(Decimal("0.01")))
            issues.append(
                Issue(
                    type="total_mismatch",
                    severity=RED,
                    description=(
                        f"The total {total} is not quantity × unit price ({quantity} × {price} = "
                        f"{expected.quantize(Decimal('0.01'))})."
                    ),
                    suggestion="Recalculate the line total.",
                )
            )

    if group:
        shown = [other for other in group[: _DUPLICATES_SHOWN + 1] if other != position.id][:_DUPLICATES_SHOWN]
        evidence["duplicates"] = tuple(shown)
        more = "" if len(group) - 1 <= len(shown) else " …"
        issues.append(
            Issue(
                type="duplicate",
                severity=AMBER,
                description=(
                    f"Same code, description and quantity in the same object as {len(group) - 1} other position(s): "
                    f"{', '.join(shown)}{more}."
                ),
                suggestion="Merge the duplicates or make clear why the work is listed twice.",
            )
        )

    status = worst(issue.severity for issue in issues)
    if status is GREEN:
        reasoning = "Description, quantity, unit and price are present and the total adds up."
        if not context.priced:
            reasoning = "Description, quantity and unit are present."
        notes = [issue.description for issue in issues]
        return Verdict.make(ROLE, GREEN, 100, " ".join([reasoning, *notes]), evidence=evidence, issues=issues)
    confidence = 100 if status is RED or any(i.type != "duplicate" for i in issues) else 85
    return Verdict.make(
        ROLE,
        status,
        confidence,
        " ".join(issue.description for issue in issues),
        evidence=evidence,
        issues=issues,
        suggestions=[issue.suggestion for issue in issues if issue.suggestion],
    )


def _duplicate_groups(positions: Sequence[AuditPosition]) -> dict[str, list[str]]:
    """Position id → ids of all positions (itself included) with the same code, description and quantity
    in the same object: the same work listed twice. The same item in two objects is two pieces of work."""
    groups: dict[tuple[str, str, str, Decimal | None], list[str]] = defaultdict(list)
    for position in positions:
        description = " ".join((position.description or "").split()).casefold()
        if not description:
            continue
        quantity = position.quantity.normalize() if position.quantity is not None else None
        key = (normalize_code(position.code), description, (position.object_code or "").strip(), quantity)
        groups[key].append(position.id)
    return {position_id: ids for ids in groups.values() if len(ids) > 1 for position_id in ids}


EXPERT = RuleExpert(ROLE, check)
