"""Concrete: does the strength class reach the minimum every listed exposure class demands?

Only positions that speak of concrete are judged. Class below any exposure's minimum → RED
("Beton C25/30 XD3": XD3 needs C30/37); several classes of which the weakest is below → AMBER; an
air content stated below the minimum for XF2–XF4 → AMBER; concrete of a strength class measured by
mass (t, kg) → AMBER. Information only: exposure classes without a strength class, an exposure the
table has no minimum for, XF2–XF4 without a word about air entrainment (budgets rarely repeat it).
The minimums come from the context's exposure table.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from app.domain.audits.concrete_text import ConcreteSpec, StrengthClass, concerns_removal, read_concrete_spec
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
from app.domain.kb.reference import ExposureTable
from app.domain.kb.units import unit_dimension

ROLE = "concrete"


def check(positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
    """One verdict per position; positions without concrete get a GREEN "not applicable"."""
    return [_verdict(position, context) for position in positions]


def _verdict(position: AuditPosition, context: AuditContext) -> Verdict:
    spec = read_concrete_spec(position.text)
    if not spec.applies:
        return Verdict.make(ROLE, GREEN, 100, "The position does not concern concrete.", evidence={"applicable": False})

    classes = spec.strength_classes
    class_source = "text"
    if not classes:
        item = context.index.get(normalize_code(position.code)) if position.code else None
        if item is not None:
            catalogue_spec = read_concrete_spec(item.description)
            if catalogue_spec.strength_classes:
                classes = catalogue_spec.strength_classes
                class_source = "catalogue"

    table = context.exposure_table
    evidence: dict[str, Any] = {
        "applicable": True,
        "strength_classes": tuple(c.label for c in classes),
        "class_source": class_source if classes else None,
        "exposure_classes": spec.exposure_classes,
        "exposure_table": table.name,
        "upper_bound": spec.upper_bound,
    }
    claims = {"concrete_class": min(classes).label} if classes and class_source == "text" else {}
    issues: list[Issue] = []
    suggestions: list[str] = []

    if spec.exposure_classes and not classes:
        issues.append(
            Issue(
                type="exposure_without_class",
                severity=GREEN,
                description=(f"Exposure class {', '.join(spec.exposure_classes)} is given but no strength class."),
                suggestion=_minimum_hint(spec.exposure_classes, table),
            )
        )
    elif classes and spec.exposure_classes:
        issues.extend(_strength_issues(classes, spec, table, evidence))

    issues.extend(_air_issues(spec, table, evidence))
    issues.extend(_unit_issues(position, spec))

    if all(issue.severity is GREEN for issue in issues):
        if not classes:
            confidence, reasoning = 60, "Concrete is mentioned without a strength class; nothing to check."
        elif not spec.exposure_classes or "required_class" not in evidence:
            confidence = 70
            reasoning = f"{_labels(classes)} is stated without an exposure class; only the class format is checked."
        else:
            confidence = 95
            reasoning = (
                f"{_labels(classes)} reaches the minimum {evidence['required_class']} for "
                f"{', '.join(spec.exposure_classes)} ({table.title})."
            )
        reasoning = " ".join([reasoning, *(issue.description for issue in issues)])
        return Verdict.make(ROLE, GREEN, confidence, reasoning, evidence=evidence, issues=issues, claims=claims)

    suggestions = [issue.suggestion for issue in issues if issue.suggestion]
    status = worst(issue.severity for issue in issues)
    confidence = 95 if status is RED else 75
    if any(issue.type == "ambiguous_class" for issue in issues):
        confidence = 60
    return Verdict.make(
        ROLE,
        status,
        confidence,
        " ".join(issue.description for issue in issues),
        evidence=evidence,
        issues=issues,
        suggestions=suggestions,
        claims=claims,
    )


def _strength_issues(
    classes: Sequence[StrengthClass], spec: ConcreteSpec, table: ExposureTable, evidence: dict[str, Any]
) -> list[Issue]:
    minimums: dict[str, StrengthClass] = {}
    unknown: list[str] = []
    for exposure in spec.exposure_classes:
        label = table.minimum_for(exposure)
        if label is None:
            unknown.append(exposure)
        else:
            minimums[exposure] = _strength(label)
    issues: list[Issue] = []
    if unknown:
        issues.append(
            Issue(
                type="exposure_without_minimum",
                severity=GREEN,
                description=f"The table {table.name} gives no minimum class for {', '.join(unknown)}.",
                suggestion="Check the strength class for these exposure classes by hand.",
            )
        )
    if not minimums:
        return issues

    required = max(minimums.values())
    governing = max(minimums, key=lambda exposure: (minimums[exposure], exposure))
    evidence["required_class"] = required.label
    evidence["governing_exposure"] = governing
    evidence["minimums"] = {exposure: minimum.label for exposure, minimum in minimums.items()}
    weakest, strongest = min(classes), max(classes)
    if weakest >= required:
        return issues

    failing = [exposure for exposure, minimum in minimums.items() if weakest < minimum]
    if strongest >= required:
        issues.append(
            Issue(
                type="ambiguous_class",
                severity=AMBER,
                description=(
                    f"The text names several classes ({_labels(classes)}); {weakest.label} is below the "
                    f"{required.label} that {governing} needs."
                ),
                suggestion=f"State one class, at least {required.label}.",
            )
        )
        return issues
    needs = ", ".join(f"{exposure} needs {minimums[exposure].label}" for exposure in failing)
    issues.append(
        Issue(
            type="strength_below_exposure_minimum",
            severity=RED,
            description=f"{weakest.label} is below the minimum for the exposure: {needs} ({table.title}).",
            suggestion=f"Specify at least {required.label}.",
        )
    )
    return issues


def _air_issues(spec: ConcreteSpec, table: ExposureTable, evidence: dict[str, Any]) -> list[Issue]:
    rule = table.air_entrainment
    frost = [exposure for exposure in spec.exposure_classes if exposure in rule.exposure_classes]
    if not frost:
        return []
    evidence["air_entrained"] = spec.air_entrained
    evidence["air_content_percent"] = spec.air_content_percent
    minimum = rule.min_air_content_percent
    if not spec.air_entrained:
        return [
            Issue(
                type="air_entrainment_missing",
                severity=GREEN,
                description=(
                    f"{', '.join(frost)} needs air-entrained concrete (at least {minimum} % air), "
                    "which the position does not mention."
                ),
                suggestion=f"Add 'provzdušněný, obsah vzduchu min. {minimum} %' to the description.",
            )
        ]
    if spec.air_content_percent is not None and spec.air_content_percent < minimum:
        return [
            Issue(
                type="air_content_low",
                severity=AMBER,
                description=(
                    f"The air content {spec.air_content_percent} % is below the {minimum} % that "
                    f"{', '.join(frost)} needs."
                ),
                suggestion=f"Specify at least {minimum} % air content.",
            )
        ]
    return []


def _minimum_hint(exposures: Sequence[str], table: ExposureTable) -> str:
    labels = [label for exposure in exposures if (label := table.minimum_for(exposure))]
    if not labels:
        return "State the strength class."
    required = max(_strength(label) for label in labels)
    return f"State the strength class, at least {required.label} for {', '.join(exposures)}."


def _unit_issues(position: AuditPosition, spec: ConcreteSpec) -> list[Issue]:
    """Concrete of a strength class is placed by volume (or area, length, pieces), never weighed."""
    if not spec.strength_classes or unit_dimension(position.unit) != "mass":
        return []
    if concerns_removal(position.text):
        return []
    return [
        Issue(
            type="concrete_by_mass",
            severity=AMBER,
            description=(
                f"Concrete {spec.strength_classes[0].label} is measured in {position.unit!r}, a mass; "
                "concrete works are measured by volume (m3)."
            ),
            suggestion="Check the unit (m3?) and the quantity.",
        )
    ]


@lru_cache(maxsize=64)
def _strength(label: str) -> StrengthClass:
    return StrengthClass.parse(label)


def _labels(classes: Sequence[StrengthClass]) -> str:
    return ", ".join(c.label for c in classes)


EXPERT = RuleExpert(ROLE, check)
