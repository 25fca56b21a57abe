"""Structural: do concrete, reinforcement and formwork of one object fit together?

Per budget object: reinforcement mass per m3 of the concrete it reinforces (typically 80–200 kg/m3)
and formwork area per m3 of formed concrete. Concrete, reinforcement and formwork of one element are
paired by the TSKP group of their codes (``274313611`` / ``274361821`` / ``274351121``); screeds,
blinding layers, precast pieces and demolition are left out. Positions not involved get GREEN.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from app.domain.audits.concrete_text import read_concrete_spec
from app.domain.audits.experts.contract import (
    AMBER,
    GREEN,
    AuditContext,
    AuditPosition,
    Issue,
    RuleExpert,
    Verdict,
)
from app.domain.kb.codes import element_group, normalize_code
from app.domain.kb.units import normalize_unit

ROLE = "structural"

CONCRETE, REBAR, FORMWORK = "concrete", "reinforcement", "formwork"

_EXCLUDED = (
    "bourání",
    "vybourání",
    "odstranění",
    "demontáž",
    "rozebrání",
    "frézování",
    "přesun",
    "příplatek",
    "čerpání",
    "ošetření",
    "mazanin",
    "podkl",
    "výpl",
    "vyrovnávací",
    "dílc",
    "prefabrik",
    "drenážní",
    "mezerovit",
    "asfalt",
    "plastbeton",
    "ztracen",
    "ochrana",
    "kotvení",
)
_REINFORCED_WORDS = ("železob", "želbet", "železového betonu", "ž.b.", "ze žb", " žb ")
_INCLUDES_REBAR = re.compile(r"v(?:č|c)(?:etně|etne|et)?\.?\s+výztuž|s\s+výztuží", re.IGNORECASE)
_REBAR_WORDS = ("výztuž", "betonářsk", "kari", "b500", "10 505", "10505")
_REBAR_CODE = re.compile(r"\d{3}36(?:\d{4}|[0-9A-Z])")
_REINFORCED_CODE = re.compile(r"\d{3}32\d{4}|\d{3}3[28][0-9A-Z]")
_FORMWORK_CODE = re.compile(r"\d{3}35\d{4}")
_FORMWORK_TEXT = re.compile(r"\s*(?:zřízení\s+)?bednění\b", re.IGNORECASE)
_KG_PER_T = Decimal(1000)
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class _Part:
    """What a position contributes to the structural sums of its object."""

    kind: str
    group: str | None
    reinforced: bool = False
    includes_rebar: bool = False


@dataclass
class _ObjectSums:
    concrete: list[tuple[int, _Part, Decimal]] = field(default_factory=list)
    rebar: list[tuple[int, _Part, Decimal]] = field(default_factory=list)
    formwork: list[tuple[int, _Part, Decimal]] = field(default_factory=list)


def check(positions: Sequence[AuditPosition], context: AuditContext) -> list[Verdict]:
    """One verdict per position; sums are taken per budget object (``object_code``)."""
    objects: dict[str, _ObjectSums] = defaultdict(_ObjectSums)
    involved: dict[int, str] = {}
    for index, position in enumerate(positions):
        part = _classify(position.code, position.text, position.unit, position.item_type)
        if part is None or position.quantity is None or position.quantity <= 0:
            continue
        sums = objects[position.object_code or ""]
        amount = position.quantity
        if part.kind == REBAR:
            amount = amount * _KG_PER_T if normalize_unit(position.unit) == "t" else amount
            sums.rebar.append((index, part, amount))
        elif part.kind == FORMWORK:
            sums.formwork.append((index, part, amount))
        else:
            sums.concrete.append((index, part, amount))
        involved[index] = position.object_code or ""

    findings: dict[int, tuple[list[Issue], dict[str, Any]]] = {}
    for object_code, sums in sorted(objects.items()):
        findings.update(_judge_object(object_code, sums, context))

    verdicts: list[Verdict] = []
    for index in range(len(positions)):
        found = findings.get(index)
        if found is None:
            verdicts.append(
                Verdict.make(
                    ROLE,
                    GREEN,
                    100,
                    "The position is not part of the structural plausibility checks.",
                    evidence={"applicable": False},
                )
            )
            continue
        issues, evidence = found
        if not issues:
            verdicts.append(Verdict.make(ROLE, GREEN, 80, _summary(evidence), evidence=dict(evidence)))
            continue
        verdicts.append(
            Verdict.make(
                ROLE,
                AMBER,
                60,
                " ".join(issue.description for issue in issues),
                evidence=dict(evidence),
                issues=list(issues),
                suggestions=[issue.suggestion for issue in issues if issue.suggestion],
            )
        )
    return verdicts


def _judge_object(
    object_code: str, sums: _ObjectSums, context: AuditContext
) -> dict[int, tuple[list[Issue], dict[str, Any]]]:
    settings = context.settings
    rebar_groups = {part.group for _, part, _ in sums.rebar if part.group}
    formwork_groups = {part.group for _, part, _ in sums.formwork if part.group}
    reinforced = [
        (i, part, volume)
        for i, part, volume in sums.concrete
        if not part.includes_rebar and (part.reinforced or (part.group is not None and part.group in rebar_groups))
    ]
    formed = [(i, part, volume) for i, part, volume in sums.concrete if part.group in formwork_groups]
    if not formed and sums.formwork:
        formed = list(sums.concrete)

    concrete_m3 = sum((volume for _, _, volume in sums.concrete), Decimal(0))
    reinforced_m3 = sum((volume for _, _, volume in reinforced), Decimal(0))
    rebar_kg = sum((mass for _, _, mass in sums.rebar), Decimal(0))
    formwork_m2 = sum((area for _, _, area in sums.formwork), Decimal(0))
    formed_m3 = sum((volume for _, _, volume in formed), Decimal(0))

    evidence: dict[str, Any] = {
        "applicable": True,
        "object": object_code or None,
        "concrete_m3": concrete_m3,
        "reinforced_concrete_m3": reinforced_m3,
        "reinforcement_kg": rebar_kg,
        "formwork_m2": formwork_m2,
        "formed_concrete_m3": formed_m3,
    }
    issues: dict[int, list[Issue]] = defaultdict(list)
    where = f" in object {object_code}" if object_code else ""

    if rebar_kg > 0 and reinforced_m3 > 0:
        ratio = (rebar_kg / reinforced_m3).quantize(_TENTH)
        evidence["kg_per_m3"] = ratio
        low, high = settings.rebar_min_kg_per_m3, settings.rebar_max_kg_per_m3
        if not low <= ratio <= high:
            issue = Issue(
                type="reinforcement_ratio",
                severity=AMBER,
                description=(
                    f"Reinforcement{where} is {ratio} kg per m3 of reinforced concrete "
                    f"({rebar_kg} kg / {reinforced_m3} m3), outside the usual {low}–{high} kg/m3 "
                    "(AuditSettings, after DOMAIN.md)."
                ),
                suggestion="Check the reinforcement mass and the concrete volumes against the drawings.",
            )
            for i, _, _ in [*sums.rebar, *reinforced]:
                issues[i].append(issue)
    elif rebar_kg > 0:
        issue = Issue(
            type="reinforcement_without_concrete",
            severity=AMBER,
            description=f"There is reinforcement ({rebar_kg} kg){where} but no in-place concrete it could belong to.",
            suggestion="Check whether the concrete positions are missing or sit in another object.",
        )
        for i, _, _ in sums.rebar:
            issues[i].append(issue)
    elif reinforced_m3 > 0:
        issue = Issue(
            type="concrete_without_reinforcement",
            severity=AMBER,
            description=(f"Reinforced concrete ({reinforced_m3} m3){where} has no reinforcement position."),
            suggestion="Add the reinforcement or confirm that its price is included in the concrete.",
        )
        for i, _, _ in reinforced:
            issues[i].append(issue)

    if formwork_m2 > 0 and formed_m3 > 0:
        ratio = (formwork_m2 / formed_m3).quantize(_TENTH)
        evidence["m2_per_m3"] = ratio
        low, high = settings.formwork_min_m2_per_m3, settings.formwork_max_m2_per_m3
        if not low <= ratio <= high:
            issue = Issue(
                type="formwork_ratio",
                severity=AMBER,
                description=(
                    f"Formwork{where} is {ratio} m2 per m3 of formed concrete "
                    f"({formwork_m2} m2 / {formed_m3} m3), outside the plausible {low}–{high} m2/m3 (AuditSettings)."
                ),
                suggestion="Check the formwork areas and the concrete volumes (m2 vs m3 mix-ups).",
            )
            for i, _, _ in [*sums.formwork, *formed]:
                issues[i].append(issue)
    elif formwork_m2 > 0:
        issue = Issue(
            type="formwork_without_concrete",
            severity=AMBER,
            description=f"There is formwork ({formwork_m2} m2){where} but no in-place concrete.",
            suggestion="Check whether the concrete positions are missing or sit in another object.",
        )
        for i, _, _ in sums.formwork:
            issues[i].append(issue)

    members = {i for i, _, _ in [*sums.concrete, *sums.rebar, *sums.formwork]}
    return {i: (_unique(issues.get(i, [])), evidence) for i in members}


@lru_cache(maxsize=32768)
def _classify(code: str | None, text: str, unit: str | None, item_type: str | None) -> _Part | None:
    """Concrete (m3), reinforcement (t/kg) or formwork (m2) of an in-place structure, else None."""
    lowered = text.lower()
    if any(word in lowered for word in _EXCLUDED):
        return None
    if (item_type or "").strip().upper() == "M":
        return None
    key = normalize_code(code)
    group = element_group(code)
    measure = normalize_unit(unit)
    if measure == "m3":
        if not read_concrete_spec(text).applies:
            return None
        reinforced = bool(_REINFORCED_CODE.fullmatch(key)) or any(word in f" {lowered} " for word in _REINFORCED_WORDS)
        return _Part(CONCRETE, group, reinforced, bool(_INCLUDES_REBAR.search(text)))
    if measure in ("t", "kg"):
        if _REBAR_CODE.fullmatch(key) or any(word in lowered for word in _REBAR_WORDS):
            return _Part(REBAR, group)
        return None
    if measure == "m2" and (_FORMWORK_CODE.fullmatch(key) or _FORMWORK_TEXT.match(text)):
        return _Part(FORMWORK, group)
    return None


def _unique(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


def _summary(evidence: dict[str, Any]) -> str:
    where = f"object {evidence['object']}" if evidence.get("object") else "the budget"
    parts = []
    if "kg_per_m3" in evidence:
        parts.append(f"reinforcement {evidence['kg_per_m3']} kg/m3")
    if "m2_per_m3" in evidence:
        parts.append(f"formwork {evidence['m2_per_m3']} m2/m3")
    if not parts:
        return f"Nothing in {where} to compare this position with."
    return f"Plausible for {where}: " + ", ".join(parts) + "."


EXPERT = RuleExpert(ROLE, check)
