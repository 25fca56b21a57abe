from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec
import pytest

from app.domain.audits.experts import (
    DEFAULT_EXPERTS,
    AuditContext,
    AuditPosition,
    AuditSettings,
    RuleExpert,
    Status,
    Verdict,
    audit_budget,
    combine,
)
from tests.unit.audits.audit_builders import concrete, context, position, rebar


def verdict(role: str, status: Status, confidence: int = 90, **claims: str) -> Verdict:
    return Verdict.make(role, status, confidence, f"{role} says {status}", claims=claims)


def test_every_position_gets_each_expert_and_the_orchestrator() -> None:
    positions = [position(), concrete("Beton C25/30 XD3"), rebar("2.4")]
    audits = audit_budget(positions, context(positions))
    assert [a.position_id for a in audits] == [p.id for p in positions]
    assert [v.expert for v in audits[0].verdicts] == [e.role for e in DEFAULT_EXPERTS]
    assert audits[0].final.expert == "orchestrator"
    assert audits[1].status is Status.RED
    assert audits[1].needs_review


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((Status.GREEN, Status.GREEN), Status.GREEN),
        ((Status.GREEN, Status.AMBER), Status.AMBER),
        ((Status.AMBER, Status.RED, Status.GREEN), Status.RED),
    ],
)
def test_combination_takes_the_worst(statuses: tuple[Status, ...], expected: Status) -> None:
    verdicts = [verdict(f"expert{i}", status) for i, status in enumerate(statuses)]
    final = combine(position(), verdicts, AuditSettings())
    assert final.status is expected


def test_confidence_comes_from_the_experts() -> None:
    green = combine(position(), [verdict("a", Status.GREEN, 100), verdict("b", Status.GREEN, 80)], AuditSettings())
    assert green.confidence == Decimal("90.00")
    red = combine(
        position(),
        [verdict("a", Status.RED, 70), verdict("b", Status.RED, 95), verdict("c", Status.GREEN, 100)],
        AuditSettings(),
    )
    assert red.confidence == Decimal("95.00")


def test_stricter_concrete_class_wins_a_conflict() -> None:
    # the code 274313611 is "C 16/20" in the catalogue, the text says C 20/25
    positions = [concrete("Základové pasy z betonu tř. C 20/25")]
    [audit] = audit_budget(positions, context(positions))
    assert audit.final.status is Status.AMBER
    assert audit.final.conflicts_with == ("concrete", "standards")
    assert "stricter concrete class wins: C20/25" in (audit.final.resolution or "")
    assert audit.final.evidence["resolved"] == {"concrete_class": "C20/25"}
    by_role = {v.expert: v for v in audit.verdicts}
    assert by_role["concrete"].conflicts_with == ("standards",)
    assert by_role["standards"].conflicts_with == ("concrete",)


def test_standards_expert_wins_on_codes() -> None:
    target = position(code="999888777", description="Hloubení rýh strojně", match_code="132151253", match_score=0.41)
    [audit] = audit_budget([target], context([target]))
    assert "enrichment" in audit.final.conflicts_with
    assert "standards" in audit.final.conflicts_with
    assert "standards expert wins on codes: 999888777 stands" in (audit.final.resolution or "")
    assert audit.final.needs_review  # code match 0.41 < 0.5


def test_a_private_item_without_any_match_is_not_a_doubt() -> None:
    private = position(code="Pol31", description="Atypický prvek", unit="kus", match_score=0.0)
    [audit] = audit_budget([private], context([private]))
    assert audit.status is Status.GREEN and not audit.needs_review


def test_price_outside_its_band_needs_review() -> None:
    fair, dear = position(unit_price="340.00"), position(unit_price="600.00", object_code="SO 02")
    audits = audit_budget([fair, dear], context([fair, dear]))
    assert [a.needs_review for a in audits] == [False, True]
    assert audits[1].status is Status.AMBER


def test_audit_is_deterministic() -> None:
    positions = [position(), concrete("Beton C30/37 XF4"), rebar("0.5"), position(code="Pol3", unit="ks")]
    first = msgspec.json.encode(audit_budget(positions, context(positions)))
    second = msgspec.json.encode(audit_budget(list(positions), context(list(positions))))
    assert first == second


def test_a_new_expert_plugs_into_the_registry() -> None:
    def sceptic(positions: Sequence[AuditPosition], _: AuditContext) -> list[Verdict]:
        return [verdict("sceptic", Status.AMBER, 50) for _ in positions]

    positions = [position()]
    [audit] = audit_budget(positions, context(positions), experts=[*DEFAULT_EXPERTS, RuleExpert("sceptic", sceptic)])
    assert audit.status is Status.AMBER
    assert audit.verdicts[-1].expert == "sceptic"


def test_an_expert_must_answer_for_every_position() -> None:
    broken = RuleExpert("broken", lambda positions, ctx: [])
    positions = [position()]
    with pytest.raises(ValueError, match="returned 0 verdicts"):
        audit_budget(positions, context(positions), experts=[broken])
    with pytest.raises(ValueError, match="unique"):
        audit_budget(positions, context(positions), experts=[DEFAULT_EXPERTS[0], DEFAULT_EXPERTS[0]])


def test_positions_come_from_database_rows() -> None:
    row = {
        "id": "7b0c1f8e-0000-4000-8000-000000000001",
        "code": "274313611",
        "description": "Základové pasy z betonu tř. C 16/20",
        "unit": "m3",
        "quantity": Decimal("22.7200"),
        "unit_price": Decimal("4150.00"),
        "total_price": Decimal("94288.00"),
        "category": "2 - Zakládání",
        "metadata": {"object_code": "SO 1", "item_type": "K"},
        "enrichment": {"match": {"code": "274313611"}, "score": 1.0},
    }
    audit_position = AuditPosition.from_row(row)
    assert audit_position.object_code == "SO 1"
    assert audit_position.match_score == 1.0
    [audit] = audit_budget([audit_position], context([audit_position]))
    assert audit.status is Status.GREEN
