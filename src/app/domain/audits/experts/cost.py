"""Cost: is the unit price plausible?

Compared with the catalogue reference price of the code (same unit), else with the price band of the
position's kind; off by more than 15 % → AMBER, more than 50 % → RED. A price far (> 50 %) from the
median of the same code elsewhere in the project → AMBER. Blank budgets are not judged.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from app.domain.audits.experts.contract import (
    AMBER,
    GREEN,
    RED,
    AuditContext,
    AuditPosition,
    Issue,
    RuleExpert,
    Verdict,
    worst,
)
from app.domain.kb.codes import normalize_code
from app.domain.kb.reference import PriceBand, find_band
from app.domain.kb.units import normalize_unit, same_unit

ROLE = "cost"
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")

_GroupKey = tuple[str, str]


def check(positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
    """One verdict per position; outliers are measured against the same code across the budget."""
    if not context.priced:
        return [
            Verdict.make(
                ROLE,
                GREEN,
                100,
                "The budget is not priced (a blank tender budget), so unit prices are not judged.",
                evidence={"priced": False},
            )
            for _ in positions
        ]
    medians = _code_medians(positions, context.settings.outlier_min_group)
    return [_verdict(position, context, medians) for position in positions]


def _verdict(position: AuditPosition, context: AuditContext, medians: dict[_GroupKey, Decimal]) -> Verdict:
    price = position.unit_price
    if price is None or price <= 0:
        return Verdict.make(
            ROLE,
            GREEN,
            50,
            "There is no unit price to compare (the validator reports a missing price).",
            evidence={"priced": True, "unit_price": price},
        )

    settings = context.settings
    evidence: dict[str, Any] = {"priced": True, "unit_price": price}
    issues: list[Issue] = []
    reasons: list[str] = []
    deviation: Decimal | None = None
    confidence = 40

    item = context.index.get(normalize_code(position.code)) if position.code else None
    if item is not None and item.reference_price and same_unit(position.unit, item.unit):
        reference = item.reference_price
        deviation = ((price - reference) / reference * _HUNDRED).quantize(_CENT)
        source = f"the catalogue reference {_money(reference)} ({item.catalog} {item.code})"
        evidence.update(reference_source="catalogue", reference_price=reference, deviation_pct=deviation)
        confidence = 90
        reasons.append(_deviation_sentence(price, deviation, source))
    else:
        band = find_band(
            context.price_bands,
            code=position.code,
            text=position.text,
            unit=position.unit,
            item_type=position.item_type,
        )
        if band is not None:
            deviation = _band_deviation(price, band)
            evidence.update(
                reference_source=f"band:{band.kind}",
                band_min=band.min_price,
                band_max=band.max_price,
                deviation_pct=deviation,
            )
            confidence = 70
            span = f"{_money(band.min_price)}–{_money(band.max_price)} CZK/{band.unit}"
            if deviation == 0:
                reasons.append(f"Unit price {_money(price)} is within the band {span} for {band.label.lower()}.")
            else:
                side = "above" if deviation > 0 else "below"
                reasons.append(
                    f"Unit price {_money(price)} is {abs(deviation)} % {side} the band {span} for {band.label.lower()}."
                )

    if deviation is not None:
        size = abs(deviation)
        severity = RED if size > settings.price_red_pct else AMBER if size > settings.price_amber_pct else None
        if severity is not None:
            issues.append(
                Issue(
                    type="price_deviation",
                    severity=severity,
                    description=reasons[-1],
                    suggestion="Check the unit price against the catalogue and current quotations.",
                )
            )

    median = medians.get(_group_key(position))
    if median is not None and median > 0:
        spread = ((price - median) / median * _HUNDRED).quantize(_CENT)
        evidence.update(code_median=median, deviation_from_code_median_pct=spread)
        if abs(spread) > settings.outlier_pct:
            side = "above" if spread > 0 else "below"
            issues.append(
                Issue(
                    type="project_price_outlier",
                    severity=AMBER,
                    description=(
                        f"Unit price {_money(price)} is {abs(spread)} % {side} the median {_money(median)} "
                        f"of {position.code} elsewhere in this budget."
                    ),
                    suggestion="Unify the price of the same item across the budget or explain the difference.",
                )
            )
            confidence = max(confidence, 60)

    needs_review = deviation is not None and abs(deviation) > settings.price_amber_pct
    if not reasons and not issues:
        return Verdict.make(
            ROLE,
            GREEN,
            40,
            "No reference price or price band applies to this position; its price is not judged.",
            evidence=evidence,
        )
    status = worst(issue.severity for issue in issues)
    reasoning = " ".join(dict.fromkeys([*reasons, *(issue.description for issue in issues)]))
    return Verdict.make(
        ROLE,
        status,
        confidence,
        reasoning,
        evidence=evidence,
        issues=issues,
        suggestions=[issue.suggestion for issue in issues if issue.suggestion],
        needs_review=needs_review,
    )


def _band_deviation(price: Decimal, band: PriceBand) -> Decimal:
    """0 inside the band, else the signed % distance from the nearer bound."""
    if price < band.min_price:
        return ((price - band.min_price) / band.min_price * _HUNDRED).quantize(_CENT)
    if price > band.max_price:
        return ((price - band.max_price) / band.max_price * _HUNDRED).quantize(_CENT)
    return Decimal(0)


def _deviation_sentence(price: Decimal, deviation: Decimal, source: str) -> str:
    if deviation == 0:
        return f"Unit price {_money(price)} equals {source}."
    side = "above" if deviation > 0 else "below"
    return f"Unit price {_money(price)} is {abs(deviation)} % {side} {source}."


def _group_key(position: AuditPosition) -> _GroupKey:
    return normalize_code(position.code), normalize_unit(position.unit)


def _code_medians(positions: Sequence[AuditPosition], minimum: int) -> dict[_GroupKey, Decimal]:
    """Median unit price per (code, unit) over priced positions, for codes used at least ``minimum`` times."""
    prices: dict[_GroupKey, list[Decimal]] = defaultdict(list)
    for position in positions:
        price = position.unit_price
        if position.code and price is not None and price > 0:
            prices[_group_key(position)].append(price)
    return {key: statistics.median(values) for key, values in prices.items() if len(values) >= minimum}


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


EXPERT = RuleExpert(ROLE, check)
