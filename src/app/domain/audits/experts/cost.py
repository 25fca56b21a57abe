"""Cost: is the unit price plausible?

The price is compared with a band: the catalogue reference price of the code (same unit) stands for
the band reference / 1.5 … reference × 1.5; otherwise the price band of the position's kind
(in-place concrete, reinforcement …). Inside → fine; outside → AMBER; more than 3× the band's top or
below a third of its bottom → RED. Without a band, a price far from the same code's other uses in the
budget (2×) or from its TSKP class peers of the same unit (6×) → AMBER. A position without a price is
not judged here (the validator says whether it should have one).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
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
    Status,
    Verdict,
    worst,
)
from app.domain.kb.codes import normalize_code
from app.domain.kb.reference import find_band
from app.domain.kb.units import normalize_unit, same_unit

ROLE = "cost"
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class _Band:
    """The range a price is judged against, and where it comes from (for the finding's text)."""

    low: Decimal
    high: Decimal
    unit: str
    label: str
    source: str
    kind: str


def check(positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
    """One verdict per position; same-code and class-peer prices are gathered across the budget first."""
    peers = _Peers.of(positions, context)
    return [_verdict(position, context, peers) for position in positions]


def _verdict(position: AuditPosition, context: AuditContext, peers: _Peers) -> Verdict:
    price = position.unit_price
    if price is None or price <= 0:
        return Verdict.make(
            ROLE,
            GREEN,
            50,
            "There is no unit price to judge.",
            evidence={"priced": context.priced, "unit_price": price},
        )

    settings = context.settings
    evidence: dict[str, Any] = {"priced": context.priced, "unit_price": price}
    issues: list[Issue] = []
    reasons: list[str] = []
    confidence = 40

    band = _band_for(position, context)
    if band is not None:
        evidence.update(reference_source=band.kind, band_min=band.low, band_max=band.high, band_source=band.source)
        confidence = 90 if band.kind == "catalogue" else 70
        severity, sentence = _judge(price, band, settings.band_red_factor)
        evidence["deviation_pct"] = _deviation(price, band)
        reasons.append(sentence)
        if severity is not GREEN:
            issues.append(
                Issue(
                    type="price_outside_band",
                    severity=severity,
                    description=sentence,
                    suggestion="Check the unit price (a decimal point, the unit) against the catalogue and quotations.",
                )
            )
    else:
        found = peers.same_code_issue(position, price, settings.same_code_factor, evidence)
        if found is None:
            found = peers.class_issue(position, price, settings.class_peer_factor, evidence)
        if found is not None:
            issues.append(found)
            confidence = 60

    if not reasons and not issues:
        return Verdict.make(
            ROLE,
            GREEN,
            40,
            "No reference price, band or comparable position applies; the price is not judged.",
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
        needs_review=status is not GREEN,
    )


def _band_for(position: AuditPosition, context: AuditContext) -> _Band | None:
    item = context.index.get(normalize_code(position.code)) if position.code else None
    if item is not None and item.reference_price and same_unit(position.unit, item.unit):
        factor = context.settings.reference_band_factor
        reference = item.reference_price
        return _Band(
            low=(reference / factor).quantize(_CENT),
            high=(reference * factor).quantize(_CENT),
            unit=normalize_unit(item.unit),
            label=f"the catalogue reference {_money(reference)} ± a factor {factor}",
            source=f"{item.catalog} {item.code}",
            kind="catalogue",
        )
    band = find_band(
        context.price_bands, code=position.code, text=position.text, unit=position.unit, item_type=position.item_type
    )
    if band is None:
        return None
    return _Band(
        low=band.min_price,
        high=band.max_price,
        unit=band.unit,
        label=band.label.lower(),
        source=band.source or f"price band {band.kind}",
        kind=f"band:{band.kind}",
    )


def _judge(price: Decimal, band: _Band, factor: Decimal) -> tuple[Status, str]:
    span = f"{_money(band.low)}–{_money(band.high)} CZK/{band.unit} ({band.label}; {band.source})"
    if band.low <= price <= band.high:
        return GREEN, f"Unit price {_money(price)} is within {span}."
    if price > band.high:
        times = (price / band.high).quantize(Decimal("0.1"))
        severity = RED if price > band.high * factor else AMBER
        return severity, f"Unit price {_money(price)} is {times}× the top of {span}."
    times = (band.low / price).quantize(Decimal("0.1"))
    severity = RED if price * factor < band.low else AMBER
    return severity, f"Unit price {_money(price)} is 1/{times} of the bottom of {span}."


def _deviation(price: Decimal, band: _Band) -> Decimal:
    """0 inside the band, else the signed % distance from the nearer bound."""
    if price < band.low:
        return ((price - band.low) / band.low * _HUNDRED).quantize(_CENT)
    if price > band.high:
        return ((price - band.high) / band.high * _HUNDRED).quantize(_CENT)
    return Decimal(0)


_Key = tuple[str, str]


@dataclass(frozen=True)
class _Peers:
    """Unit prices of the budget by (code, unit) and by (peer group, unit).

    A position's peer group is its deepest TSKP class when that has four or five digits: similar work
    of the same unit, whose prices lie within a small factor. (Coarser classes and material groups
    were measured too: they flag sound prices about as often as they find wrong ones.)
    """

    by_code: dict[_Key, list[Decimal]]
    by_group: dict[_Key, list[tuple[str, Decimal]]]
    groups: dict[str, tuple[str, ...]]  # position id → its peer groups, narrowest first
    min_group: int

    @classmethod
    def of(cls, positions: Sequence[AuditPosition], context: AuditContext) -> _Peers:
        by_code: dict[_Key, list[Decimal]] = defaultdict(list)
        by_group: dict[_Key, list[tuple[str, Decimal]]] = defaultdict(list)
        groups: dict[str, tuple[str, ...]] = {}
        for position in positions:
            price = position.unit_price
            if not position.code or price is None or price <= 0:
                continue
            unit = normalize_unit(position.unit)
            code = normalize_code(position.code)
            by_code[(code, unit)].append(price)
            found = _peer_groups(position, context)
            groups[position.id] = found
            for group in found:
                by_group[(group, unit)].append((code, price))
        return cls(by_code, by_group, groups, context.settings.class_peer_min_group)

    def same_code_issue(
        self, position: AuditPosition, price: Decimal, factor: Decimal, evidence: dict[str, Any]
    ) -> Issue | None:
        uses = self.by_code.get((normalize_code(position.code), normalize_unit(position.unit)), [])
        if len(uses) < 2:
            return None
        # Two uses: each is judged against the other; more: against the median of all, which one odd
        # price cannot move.
        others = len(uses) - 1
        median = statistics.median(uses) if len(uses) > 2 else (uses[1] if uses[0] == price else uses[0])
        evidence.update(same_code_median=median, same_code_uses=len(uses))
        if not _far(price, median, factor):
            return None
        return Issue(
            type="same_code_price_differs",
            severity=AMBER,
            description=(
                f"Unit price {_money(price)} of {position.code} is more than {factor}× away from the "
                f"{_money(median)} it has elsewhere in this budget ({others} other use(s))."
            ),
            suggestion="Unify the price of the same item across the budget or explain the difference.",
        )

    def class_issue(
        self, position: AuditPosition, price: Decimal, factor: Decimal, evidence: dict[str, Any]
    ) -> Issue | None:
        own = normalize_code(position.code)
        unit = normalize_unit(position.unit)
        for group in self.groups.get(position.id, ()):
            others = [p for code, p in self.by_group.get((group, unit), ()) if code != own]
            if len(others) < self.min_group:
                continue
            median = statistics.median(others)
            evidence.update(class_peer_median=median, class_peers=len(others), class_peer_class=group)
            if not _far(price, median, factor):
                return None
            return Issue(
                type="price_far_from_class_peers",
                severity=AMBER,
                description=(
                    f"Unit price {_money(price)} is more than {factor}× away from the median {_money(median)} "
                    f"CZK/{position.unit} of the {len(others)} other items of TSKP class {group} in this budget."
                ),
                suggestion="Check the unit price and the unit against similar items.",
            )
        return None


def _peer_groups(position: AuditPosition, context: AuditContext) -> tuple[str, ...]:
    placement = context.classes.place(position.code, item_type=position.item_type, catalog=position.catalog)
    if placement is None:
        return ()
    deepest = placement.deepest
    return (deepest.code,) if deepest is not None and len(deepest.code) >= 4 else ()


def _far(price: Decimal, median: Decimal, factor: Decimal) -> bool:
    return median > 0 and (price > median * factor or price * factor < median)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


EXPERT = RuleExpert(ROLE, check)
