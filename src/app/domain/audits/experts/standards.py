"""Standards: does the code belong to a catalogue, does the catalogue know it, and is the unit the catalogue's?

Unit mismatch against the catalogue → RED; unknown catalogue code with close candidates → AMBER, with
none → RED; private codes (``Pol31``) and codes of a catalogue that is not loaded → AMBER at most.
This expert is the authority on codes when experts disagree (see the orchestrator).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.audits.concrete_text import read_concrete_spec
from app.domain.audits.experts.contract import (
    AMBER,
    RED,
    AuditContext,
    AuditPosition,
    Issue,
    RuleExpert,
    Status,
    Verdict,
    worst,
)
from app.domain.kb.codes import CodeShape, base_code, code_family, code_shape, normalize_code
from app.domain.kb.matching import MatchCandidate
from app.domain.kb.reference import CatalogItem
from app.domain.kb.units import normalize_unit, same_unit

ROLE = "standards"
_DECLARED = (("ÚRS", "urs"), ("URS", "urs"), ("OTSKP", "otskp"))


def check(positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
    """One verdict per position; each is judged on its own code."""
    return [_verdict(position, context) for position in positions]


def _verdict(position: AuditPosition, context: AuditContext) -> Verdict:
    shape = code_shape(position.code, position.catalog)
    key = normalize_code(position.code)
    evidence: dict[str, Any] = {"code_shape": shape.value}
    issues = _declared_catalog_issues(position, shape)

    if shape is CodeShape.MISSING:
        issues.append(
            Issue(
                type="missing_code",
                severity=AMBER,
                description="The position has no catalogue code.",
                suggestion="Assign the catalogue code of the work, or mark the item as a private one.",
            )
        )
        return _finish(position, context, issues, evidence, 70, match_score=0.0, claims={"code": ""})

    item = context.index.get(key)
    if item is not None:
        return _known(position, context, item, issues, evidence)

    base = base_code(key)
    if base is not None and base in context.index:
        base_item = context.index[base]
        evidence.update(_item_evidence(base_item, prefix="base_"))
        issues.append(
            Issue(
                type="catalogue_variant",
                severity=AMBER,
                description=(
                    f"{position.code} is a manufacturer variant of catalogue item {base_item.code} "
                    f"({base_item.description!r}), which the reference catalogue does not list itself."
                ),
                suggestion=f"Check the variant against {base_item.code}.",
            )
        )
        if position.unit and base_item.unit and not same_unit(position.unit, base_item.unit):
            issues.append(_unit_issue(position, base_item, AMBER))
        return _finish(position, context, issues, evidence, 70, match_score=0.9, claims={"code": key})

    candidates = _candidates(position, context)
    evidence["candidates"] = tuple(_candidate_evidence(candidate) for candidate in candidates)
    match_score = candidates[0].score if candidates else 0.0
    if position.match_score is not None:
        match_score = max(match_score, position.match_score)
    family = code_family(position.code, position.catalog)
    listed = _candidate_list(candidates)

    if shape is CodeShape.URS_VARIANT:
        issues.append(
            Issue(
                type="unknown_variant",
                severity=AMBER,
                description=(
                    f"{position.code} is a manufacturer variant whose base item {base} is not in the "
                    "reference catalogue either." + listed
                ),
                suggestion="Check the item against the manufacturer's price list.",
            )
        )
        return _finish(position, context, issues, evidence, 60, match_score=match_score, claims={"code": key})

    if shape in (CodeShape.PRIVATE, CodeShape.OTHER):
        issues.append(
            Issue(
                type="private_code",
                severity=AMBER,
                description=f"{position.code} is not a catalogue code (a private item)." + listed,
                suggestion="Price private items from a quotation and describe them fully.",
            )
        )
        return _finish(position, context, issues, evidence, 60, match_score=match_score, claims={"code": key})

    if family not in context.index.families:
        issues.append(
            Issue(
                type="catalogue_not_loaded",
                severity=AMBER,
                description=(
                    f"{position.code} looks like a {family.upper() if family else 'catalogue'} code, "
                    "but no such catalogue is loaded to check it against."
                ),
                suggestion="Load the matching reference catalogue.",
            )
        )
        return _finish(position, context, issues, evidence, 50, match_score=match_score, claims={"code": key})

    if candidates:
        issues.append(
            Issue(
                type="unknown_code",
                severity=AMBER,
                description=f"{position.code} is not in the reference catalogue." + listed,
                suggestion=f"Check whether {candidates[0].code} was meant.",
            )
        )
        return _finish(position, context, issues, evidence, 70, match_score=match_score, claims={"code": key})

    issues.append(
        Issue(
            type="unknown_code",
            severity=RED,
            description=f"{position.code} is not in the reference catalogue and nothing close to it is.",
            suggestion="Replace it with a valid catalogue code.",
        )
    )
    return _finish(position, context, issues, evidence, 80, match_score=match_score, claims={"code": key})


def _known(
    position: AuditPosition, context: AuditContext, item: CatalogItem, issues: list[Issue], evidence: dict[str, Any]
) -> Verdict:
    evidence.update(_item_evidence(item, prefix="catalog_"))
    claims = {"code": normalize_code(item.code)}
    catalog_class = read_concrete_spec(item.description).weakest_class
    if catalog_class is not None:
        claims["concrete_class"] = catalog_class.label

    if not item.unit:
        confidence = 70
        evidence["unit_check"] = "catalogue has no unit"
    elif not (position.unit or "").strip():
        confidence = 60
        evidence["unit_check"] = "position has no unit"
    elif same_unit(position.unit, item.unit):
        confidence = 95
        evidence["unit_check"] = "matches"
    else:
        confidence = 95
        evidence["unit_check"] = "mismatch"
        issues.append(_unit_issue(position, item, RED))
    return _finish(position, context, issues, evidence, confidence, match_score=1.0, claims=claims, item=item)


def _unit_issue(position: AuditPosition, item: CatalogItem, severity: Status) -> Issue:
    return Issue(
        type="unit_mismatch",
        severity=severity,
        description=(f"The unit {position.unit!r} differs from the catalogue unit {item.unit!r} of {item.code}."),
        suggestion=f"Use {normalize_unit(item.unit)} and convert the quantity, or correct the code.",
    )


def _declared_catalog_issues(position: AuditPosition, shape: CodeShape) -> list[Issue]:
    """A code whose shape contradicts the price system the position names ("OTSKP 2025" with 9 digits)."""
    declared = (position.catalog or "").upper()
    family = code_family(position.code, position.catalog)
    if not declared or family is None:
        return []
    for marker, expected in _DECLARED:
        if marker in declared and family != expected:
            return [
                Issue(
                    type="code_shape",
                    severity=AMBER,
                    description=(
                        f"{position.code} has the shape of a {family.upper()} code, "
                        f"but the position names the price system {position.catalog!r}."
                    ),
                    suggestion="Check the price system or the code.",
                )
            ]
    return []


def _candidates(position: AuditPosition, context: AuditContext) -> list[MatchCandidate]:
    """Close catalogue items: those enrichment found for the position, else codes sharing its leading digits."""
    minimum = context.settings.candidate_min_score
    given = [c for c in context.candidates.get(position.id, ()) if c.score >= minimum]
    if given:
        return sorted(given, key=lambda c: (-c.score, normalize_code(c.code)))[:3]
    key = normalize_code(position.code)
    found: list[MatchCandidate] = []
    for item in context.index.neighbours(key):
        code = normalize_code(item.code)
        shared = next((i for i, (a, b) in enumerate(zip(key, code, strict=False)) if a != b), min(len(key), len(code)))
        found.append(MatchCandidate.of(item, shared / max(len(key), 1)))
    return found


def _candidate_list(candidates: list[MatchCandidate]) -> str:
    if not candidates:
        return ""
    listed = "; ".join(f"{c.code} {c.description!r} ({c.unit or '-'})" for c in candidates)
    return f" Close catalogue items: {listed}."


_ITEM_KEYS = {
    prefix: tuple(f"{prefix}{field}" for field in ("catalog", "code", "description", "unit", "reference_price"))
    for prefix in ("catalog_", "base_")
}


def _item_evidence(item: CatalogItem, prefix: str) -> dict[str, Any]:
    """Flat keys (``catalog_code`` …) keep the evidence dict free of nested containers."""
    keys = _ITEM_KEYS[prefix]
    return dict(zip(keys, (item.catalog, item.code, item.description, item.unit, item.reference_price), strict=True))


def _candidate_evidence(candidate: MatchCandidate) -> dict[str, Any]:
    return {
        "code": candidate.code,
        "description": candidate.description,
        "unit": candidate.unit,
        "score": candidate.score,
    }


def _finish(
    position: AuditPosition,
    context: AuditContext,
    issues: list[Issue],
    evidence: dict[str, Any],
    confidence: int,
    *,
    match_score: float,
    claims: dict[str, str],
    item: CatalogItem | None = None,
) -> Verdict:
    evidence["match_score"] = round(match_score, 4)
    status = worst(issue.severity for issue in issues)
    needs_review = match_score < context.settings.review_match_score
    if not issues and item is not None:
        reasoning = f"{item.code} is in {item.catalog} ({item.description!r}) and the unit matches."
        if evidence.get("unit_check") != "matches":
            reasoning = f"{item.code} is in {item.catalog} ({item.description!r}); {evidence['unit_check']}."
        return Verdict.make(ROLE, status, confidence, reasoning, evidence=evidence, claims=claims)
    return Verdict.make(
        ROLE,
        status,
        confidence,
        " ".join(issue.description for issue in issues),
        evidence=evidence,
        issues=issues,
        suggestions=[issue.suggestion for issue in issues if issue.suggestion],
        claims=claims,
        needs_review=needs_review,
    )


EXPERT = RuleExpert(ROLE, check)
