"""Standards: does the code belong to a catalogue and a TSKP class, and do unit and text fit them?

What the file proves is judged hard, what only our partial reference data says is information:
  - the unit against the catalogue item of the code: another dimension (m3 vs t) → RED, another
    unit of the same dimension (t vs kg) → AMBER;
  - the unit against the code's TSKP class: a mass on a monolithic-concrete class, a volume on a
    reinforcement class, a volume or mass on a formwork class → RED;
  - the description's concrete class or reinforcement against the catalogue item (or the class) its
    code names ("C30/37" on a "C 20/25" item, "včetně výztuže" on a "bez výztuže" one) → AMBER, and
    a description of another kind of work than the class (reinforcement on a concrete code) → AMBER;
  - a code whose TSKP class does not exist → AMBER (probably a typo);
  - a code missing from our catalogue, a private or R-item code, a manufacturer variant, a code we
    can place only by its class → information (GREEN), with the class path and close items.
This expert is the authority on codes when experts disagree (see the orchestrator).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from app.domain.audits.concrete_text import ReinforcementSpec, read_concrete_spec, read_reinforcement
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
from app.domain.kb.classes import ClassKind, ClassPlacement
from app.domain.kb.codes import CodeShape, base_code, code_family, code_shape, normalize_code
from app.domain.kb.matching import MatchCandidate
from app.domain.kb.reference import CatalogItem
from app.domain.kb.units import normalize_unit, same_unit, unit_dimension

ROLE = "standards"
_DECLARED = (("ÚRS", "urs"), ("URS", "urs"), ("OTSKP", "otskp"))
_FORBIDDEN_DIMENSIONS: dict[ClassKind, tuple[str, ...]] = {
    ClassKind.CONCRETE: ("mass",),
    ClassKind.REINFORCEMENT: ("volume",),
    ClassKind.FORMWORK: ("volume", "mass"),
}
_MEASURED_BY = {ClassKind.CONCRETE: "volume (m3)", ClassKind.REINFORCEMENT: "mass (t)", ClassKind.FORMWORK: "area (m2)"}
_REBAR_TEXT = re.compile(r"\s*výztuž", re.IGNORECASE)
_FORMWORK_TEXT = re.compile(r"\s*(?:zřízení\s+|odstranění\s+)?bednění\b", re.IGNORECASE)


def check(positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
    """One verdict per position; each is judged on its own code."""
    return [_verdict(position, context) for position in positions]


def _verdict(position: AuditPosition, context: AuditContext) -> Verdict:
    shape = code_shape(position.code, position.catalog)
    key = normalize_code(position.code)
    evidence: dict[str, Any] = {"code_shape": shape.value}
    issues = _declared_catalog_issues(position, shape)
    placement = context.classes.place(position.code, item_type=position.item_type, catalog=position.catalog)
    if placement is not None:
        evidence.update(_class_evidence(placement, context))

    if shape is CodeShape.MISSING:
        issues.append(
            Issue(
                type="missing_code",
                severity=GREEN,
                description="The position has no catalogue code (an item of the estimator's own).",
                suggestion="Describe the item fully and price it from a quotation.",
            )
        )
        return _finish(position, context, issues, evidence, 70, match_score=0.0, claims={"code": ""})

    item = context.index.get(key)
    if item is not None:
        issues.extend(_class_issues(position, placement, item, context.classes.edition))
        return _known(position, context, item, issues, evidence)

    issues.extend(_class_issues(position, placement, None, context.classes.edition))
    placed = f" It lies in {placement.describe()}." if placement is not None and placement.path else ""
    base = base_code(key)
    if base is not None and base in context.index:
        base_item = context.index[base]
        evidence.update(_item_evidence(base_item, prefix="base_"))
        issues.append(
            Issue(
                type="catalogue_variant",
                severity=GREEN,
                description=(
                    f"{position.code} is a manufacturer variant of catalogue item {base_item.code} "
                    f"({base_item.description!r})."
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
        kind, text = "unknown_variant", f"{position.code} is a manufacturer variant (base item {base})."
    elif shape in (CodeShape.PRIVATE, CodeShape.OTHER):
        kind, text = "private_code", f"{position.code} is the estimator's own item (a private or R-item code)."
    elif family not in context.index.families:
        label = family.upper() if family else "catalogue"
        kind, text = "catalogue_not_loaded", f"{position.code} is a {label} code; that catalogue is not loaded."
    else:
        kind, text = "unknown_code", f"{position.code} is not in our reference catalogue extract."
    issues.append(
        Issue(
            type=kind,
            severity=GREEN,
            description=text + placed + listed,
            suggestion="Nothing to fix: the code is judged by its class, unit and text only.",
        )
    )
    return _finish(position, context, issues, evidence, 60, match_score=match_score, claims={"code": key})


def _class_evidence(placement: ClassPlacement, context: AuditContext) -> dict[str, Any]:
    deepest = placement.deepest
    return {
        "code_class": deepest.code if deepest else None,
        "code_class_name": deepest.name if deepest else None,
        "code_class_path": tuple(item.code for item in placement.path),
        "code_class_kind": placement.kind.value if placement.kind else None,
        "class_table": context.classes.edition,
    }


def _class_issues(
    position: AuditPosition, placement: ClassPlacement | None, item: CatalogItem | None, edition: str
) -> list[Issue]:
    """What the code's TSKP class says about the code, the unit and the description."""
    if placement is None:
        return _item_text_issues(position, item, None)
    source = placement.describe()
    if not placement.exists:
        return [
            Issue(
                type="unknown_class",
                severity=AMBER,
                description=(
                    f"{position.code}: {edition or 'TSKP'} has no group {placement.code[:2]} under "
                    f"{placement.describe()}, so the code is probably mistyped."
                ),
                suggestion="Check the code against the catalogue.",
            )
        ]
    issues: list[Issue] = []
    kind = placement.kind
    dimension = unit_dimension(position.unit)
    if kind is not None and dimension in _FORBIDDEN_DIMENSIONS[kind] and (item is None or not item.unit):
        issues.append(
            Issue(
                type="unit_incompatible_with_class",
                severity=RED,
                description=(
                    f"The unit {position.unit!r} measures {dimension}, but {source} is {kind.value}, "
                    f"measured by {_MEASURED_BY[kind]}."
                ),
                suggestion=f"Measure the work by {_MEASURED_BY[kind]} or correct the code.",
            )
        )
    described = _described_kind(position)
    if kind is not None and described is not None and described is not kind:
        issues.append(
            Issue(
                type="description_class_mismatch",
                severity=AMBER,
                description=(
                    f"The description is {described.value} work, but {source} is {kind.value}: probably the wrong code."
                ),
                suggestion="Choose a code of the class the work belongs to.",
            )
        )
    issues.extend(_item_text_issues(position, item, placement))
    return issues


def _described_kind(position: AuditPosition) -> ClassKind | None:
    """Reinforcement, formwork or concrete with a strength class, as the description itself begins."""
    text = position.description or ""
    if _REBAR_TEXT.match(text):
        return ClassKind.REINFORCEMENT
    if _FORMWORK_TEXT.match(text):
        return ClassKind.FORMWORK
    if read_concrete_spec(text).strength_classes and "výztuž" not in text.lower() and "bednění" not in text.lower():
        return ClassKind.CONCRETE
    return None


def _item_text_issues(
    position: AuditPosition, item: CatalogItem | None, placement: ClassPlacement | None
) -> list[Issue]:
    """The position's concrete class and reinforcement against its catalogue item (else its class)."""
    issues: list[Issue] = []
    text = position.text
    if item is not None:
        stated = read_concrete_spec(text).strength_classes
        item_spec = read_concrete_spec(item.description)
        if stated and item_spec.strength_classes:
            if item_spec.upper_bound:
                ceiling = max(item_spec.strength_classes)
                differing = [c for c in stated if c > ceiling]
            else:
                differing = [c for c in stated if c not in item_spec.strength_classes]
            if differing:
                labels = ", ".join(c.label for c in differing)
                named = ", ".join(c.label for c in item_spec.strength_classes)
                issues.append(
                    Issue(
                        type="concrete_class_differs_from_item",
                        severity=AMBER,
                        description=(
                            f"The position names {labels}, but {item.code} ({item.catalog}) is the item for "
                            f"{'up to ' if item_spec.upper_bound else ''}{named}: {item.description!r}."
                        ),
                        suggestion=f"Use the catalogue item of {labels}, or correct the description.",
                    )
                )
    item_words: ReinforcementSpec | None = None
    source = ""
    if item is not None:
        item_words = read_reinforcement(item.description)
        source = f"{item.code} {item.description!r}"
    if (item_words is None or item_words == ReinforcementSpec()) and placement is not None and placement.deepest:
        item_words = read_reinforcement(placement.deepest.name)
        source = placement.describe()
    if item_words is not None and read_concrete_spec(text).applies:
        contradiction = read_reinforcement(text).contradiction(item_words)
        if contradiction:
            issues.append(
                Issue(
                    type="reinforcement_differs_from_item",
                    severity=AMBER,
                    description=f"Reinforcement does not match the code: {contradiction} ({source}).",
                    suggestion="Choose the item that matches the reinforcement, or price the reinforcement separately.",
                )
            )
    return issues


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
        other_dimension = unit_dimension(position.unit) != unit_dimension(item.unit)
        issues.append(_unit_issue(position, item, RED if other_dimension else AMBER))
    return _finish(position, context, issues, evidence, confidence, match_score=1.0, claims=claims, item=item)


def _unit_issue(position: AuditPosition, item: CatalogItem, severity: Status) -> Issue:
    what = "another quantity than" if severity is RED else "a different unit from"
    return Issue(
        type="unit_mismatch",
        severity=severity,
        description=(
            f"The unit {position.unit!r} is {what} the catalogue unit {item.unit!r} of {item.code} ({item.catalog})."
        ),
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
    findings = [issue for issue in issues if issue.severity is not GREEN]
    needs_review = bool(findings) and match_score < context.settings.review_match_score
    if not issues and item is not None:
        reasoning = f"{item.code} is in {item.catalog} ({item.description!r}) and the unit matches."
        if evidence.get("unit_check") != "matches":
            reasoning = f"{item.code} is in {item.catalog} ({item.description!r}); {evidence['unit_check']}."
        return Verdict.make(ROLE, status, confidence, reasoning, evidence=evidence, claims=claims)
    return Verdict.make(
        ROLE,
        status,
        confidence,
        " ".join(issue.description for issue in sorted(issues, key=lambda issue: -issue.severity.rank)),
        evidence=evidence,
        issues=issues,
        suggestions=[issue.suggestion for issue in findings if issue.suggestion],
        claims=claims,
        needs_review=needs_review,
    )


EXPERT = RuleExpert(ROLE, check)
