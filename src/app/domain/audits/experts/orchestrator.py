"""Orchestrator: runs the experts over a budget and combines their verdicts per position.

Any RED → RED, else any AMBER → AMBER, else GREEN. Where experts claim different things about the
same subject, the conflict is recorded and resolved: the standards expert wins on codes, the stricter
concrete class wins. Human review is wanted on RED, on a price off by more than 15 % and on a code
match below 0.5. ``audit_budget`` is the front door; ``DEFAULT_EXPERTS`` the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import msgspec

from app.domain.audits.concrete_text import StrengthClass
from app.domain.audits.experts import concrete, cost, standards, structural, validator
from app.domain.audits.experts.contract import (
    AMBER,
    GREEN,
    RED,
    AuditContext,
    AuditPosition,
    AuditSettings,
    Expert,
    Issue,
    PositionAudit,
    Status,
    Verdict,
    as_confidence,
    worst,
)
from app.domain.kb.codes import normalize_code

ROLE = "orchestrator"
_NAME = {status: str(status) for status in Status}
ENRICHMENT = "enrichment"  # pseudo-role for the match stored on the position by enrichment

DEFAULT_EXPERTS: tuple[Expert, ...] = (
    validator.EXPERT,
    standards.EXPERT,
    concrete.EXPERT,
    cost.EXPERT,
    structural.EXPERT,
)
"""The registry of experts run by default, in the order their verdicts are reported."""


def audit_budget(
    positions: Sequence[AuditPosition],
    context: AuditContext,
    experts: Sequence[Expert] = DEFAULT_EXPERTS,
) -> list[PositionAudit]:
    """Audit a whole budget: per position, every expert's verdict and the orchestrator's, in input order."""
    roles = [expert.role for expert in experts]
    if len(set(roles)) != len(roles) or ROLE in roles:
        raise ValueError(f"expert roles must be unique and not {ROLE!r}: {roles}")
    columns: list[list[Verdict]] = []
    for expert in experts:
        verdicts = expert.check(positions, context)
        if len(verdicts) != len(positions):
            raise ValueError(f"expert {expert.role!r} returned {len(verdicts)} verdicts for {len(positions)} positions")
        if any(verdict.expert != expert.role for verdict in verdicts):
            raise ValueError(f"expert {expert.role!r} signed a verdict with another role")
        columns.append(verdicts)
    audits: list[PositionAudit] = []
    for index, position in enumerate(positions):
        row = tuple(column[index] for column in columns)
        audits.append(
            PositionAudit(position_id=position.id, verdicts=row, final=combine(position, row, context.settings))
        )
    return audits


@dataclass(frozen=True)
class Conflict:
    """Experts that claim different values for one subject, and how it was settled."""

    subject: str
    roles: tuple[str, ...]
    value: str
    resolution: str
    raises_to_amber: bool


Resolver = Callable[[dict[str, str], dict[str, Verdict]], tuple[str, str, bool]]
"""(claims by role, verdicts by role) → (winning value, resolution text, lift GREEN to AMBER?)."""


def _resolve_code(claims: dict[str, str], verdicts: dict[str, Verdict]) -> tuple[str, str, bool]:
    if standards.ROLE in claims:
        value = claims[standards.ROLE]
        others = ", ".join(f"{role} proposed {claims[role] or 'no code'}" for role in claims if role != standards.ROLE)
        text = f"The standards expert wins on codes: {value or 'no code'} stands ({others})."
        return value, text, False
    value = _by_worst_status(claims, verdicts)
    return value, f"Without a standards verdict the stricter expert's code {value} is kept.", False


def _resolve_concrete_class(claims: dict[str, str], verdicts: dict[str, Verdict]) -> tuple[str, str, bool]:
    parsed = {role: StrengthClass.parse(label) for role, label in claims.items()}
    strictest = max(parsed.values())
    listed = ", ".join(f"{role}: {label}" for role, label in claims.items())
    return strictest.label, f"The stricter concrete class wins: {strictest.label} applies ({listed}).", True


def _by_worst_status(claims: dict[str, str], verdicts: dict[str, Verdict]) -> str:
    role = max(claims, key=lambda r: verdicts[r].status.rank if r in verdicts else -1)
    return claims[role]


def _resolve_by_status(claims: dict[str, str], verdicts: dict[str, Verdict]) -> tuple[str, str, bool]:
    value = _by_worst_status(claims, verdicts)
    return value, f"The stricter verdict wins: {value}.", True


RESOLVERS: dict[str, Resolver] = {"code": _resolve_code, "concrete_class": _resolve_concrete_class}
"""How each claim subject is settled; other subjects go to the expert with the stricter verdict."""

_NORMALISE: dict[str, Callable[[str], str]] = {"code": normalize_code}


def find_conflicts(position: AuditPosition, verdicts: Sequence[Verdict]) -> list[Conflict]:
    """Subjects on which the experts (and the enrichment match) claim different values."""
    subjects: dict[str, dict[str, str]] = {}
    for verdict in verdicts:
        if verdict.claims:
            for subject, value in verdict.claims.items():
                subjects.setdefault(subject, {})[verdict.expert] = value
    if position.match_code and "code" in subjects:
        subjects["code"][ENRICHMENT] = position.match_code

    conflicts: list[Conflict] = []
    for subject in sorted(subjects):
        claims = subjects[subject]
        if len(claims) < 2:
            continue
        normalise = _NORMALISE.get(subject, str.strip)
        if len({normalise(value) for value in claims.values()}) < 2:
            continue
        resolver = RESOLVERS.get(subject, _resolve_by_status)
        value, resolution, raises = resolver(claims, {verdict.expert: verdict for verdict in verdicts})
        conflicts.append(Conflict(subject, tuple(claims), value, resolution, raises))
    return conflicts


def combine(position: AuditPosition, verdicts: Sequence[Verdict], settings: AuditSettings) -> Verdict:
    """The orchestrator's verdict for one position; also marks conflicts on the experts' verdicts."""
    conflicts = find_conflicts(position, verdicts)
    if conflicts:
        _mark_conflicts(verdicts, conflicts)

    status = worst(verdict.status for verdict in verdicts)
    lifted = status is GREEN and any(conflict.raises_to_amber for conflict in conflicts)
    if lifted:
        status = AMBER
    # A weak catalogue match wants a look; no match at all (a private item) is information, not a doubt.
    match_low = (
        position.match_code is not None
        and position.match_score is not None
        and position.match_score < settings.review_match_score
    )
    needs_review = status is RED or match_low

    issues: list[Issue] = []
    suggestions: dict[str, None] = {}
    evidence: dict[str, Any] = {}  # flat keys ("cost_status", "cost_confidence"): cheap for the GC at 10k rows
    for verdict in verdicts:
        status_key, confidence_key = _evidence_keys(verdict.expert)
        evidence[status_key] = _NAME[verdict.status]
        evidence[confidence_key] = verdict.confidence
        needs_review = needs_review or verdict.needs_review
        if verdict.issues:
            prefix = f"{verdict.expert}."
            issues.extend(msgspec.structs.replace(issue, type=prefix + issue.type) for issue in verdict.issues)
        for suggestion in verdict.suggestions:
            suggestions[suggestion] = None
    for conflict in conflicts:
        issues.append(
            Issue(
                type="orchestrator.conflict",
                severity=AMBER if conflict.raises_to_amber else GREEN,
                description=f"Experts disagree on {conflict.subject.replace('_', ' ')} ({', '.join(conflict.roles)}).",
                suggestion=conflict.resolution,
            )
        )
    if conflicts:
        evidence["resolved"] = {conflict.subject: conflict.value for conflict in conflicts}
    if match_low:
        evidence["match_score"] = position.match_score

    verdict = Verdict.make(
        ROLE,
        status,
        _confidence(status, verdicts, conflicts, lifted),
        _reasoning(status, verdicts, conflicts),
        evidence=evidence,
        issues=issues,
        suggestions=tuple(suggestions),
        needs_review=needs_review,
    )
    if conflicts:
        verdict.conflicts_with = tuple(sorted({role for conflict in conflicts for role in conflict.roles}))
        verdict.resolution = " ".join(conflict.resolution for conflict in conflicts)
    return verdict


def _mark_conflicts(verdicts: Sequence[Verdict], conflicts: list[Conflict]) -> None:
    """Note on each involved expert verdict whom it disagrees with and how that was settled."""
    by_role = {verdict.expert: verdict for verdict in verdicts}
    for conflict in conflicts:
        for role in conflict.roles:
            verdict = by_role.get(role)
            if verdict is None:
                continue
            others = [other for other in conflict.roles if other != role and other not in verdict.conflicts_with]
            verdict.conflicts_with = (*verdict.conflicts_with, *others)
            verdict.resolution = _join(verdict.resolution, conflict.resolution)


@lru_cache(maxsize=64)
def _evidence_keys(role: str) -> tuple[str, str]:
    return f"{role}_status", f"{role}_confidence"


def _confidence(status: Status, verdicts: Sequence[Verdict], conflicts: list[Conflict], lifted: bool) -> Decimal:
    """GREEN: the experts' mean; otherwise the surest expert that reached this status."""
    if not verdicts:
        return as_confidence(0)
    if lifted:
        involved = {role for conflict in conflicts for role in conflict.roles}
        values = [v.confidence for v in verdicts if v.expert in involved] or [v.confidence for v in verdicts]
        return as_confidence(min(values))
    if status is GREEN:
        total = Decimal(0)
        for verdict in verdicts:
            total += verdict.confidence
        return as_confidence(total / len(verdicts))
    return max(v.confidence for v in verdicts if v.status is status)


def _reasoning(status: Status, verdicts: Sequence[Verdict], conflicts: list[Conflict]) -> str:
    if status is GREEN:
        text = f"All {len(verdicts)} experts find the position in order."
    else:
        flagged = sorted((v for v in verdicts if v.status is not GREEN), key=lambda v: -v.status.rank)
        if flagged:
            text = " ".join(f"{v.expert} ({v.status}): {v.reasoning}" for v in flagged)
        else:
            text = "The experts agree individually but contradict each other."
    for conflict in conflicts:
        text = f"{text} {conflict.resolution}"
    return text


def _join(first: str | None, second: str) -> str:
    return second if not first else f"{first} {second}"
