from __future__ import annotations

from decimal import Decimal

from app.domain.audits.experts import Status
from app.domain.audits.experts.structural import check
from tests.unit.audits.audit_builders import concrete, context, formwork, issue_types, position, rebar


def test_reinforcement_ratio_inside_the_usual_range_is_green() -> None:
    positions = [concrete("Základové pasy z betonu tř. C 16/20", quantity="20"), rebar("2.4"), position()]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.GREEN] * 3
    assert verdicts[0].evidence["kg_per_m3"] == Decimal("120.0")
    assert verdicts[2].evidence == {"applicable": False}


def test_reinforcement_ratio_outside_the_range_is_amber_on_the_positions_involved() -> None:
    positions = [concrete("Základové pasy z betonu tř. C 16/20", quantity="20"), rebar("0.8"), position()]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.AMBER, Status.AMBER, Status.GREEN]
    assert issue_types(verdicts[0]) == ["reinforcement_ratio"]
    assert "40.0 kg per m3" in verdicts[1].reasoning


def test_ratios_are_per_object() -> None:
    positions = [
        concrete("Základové pasy z betonu tř. C 16/20", quantity="20", object_code="SO 01"),
        rebar("2.4", object_code="SO 01"),
        concrete("Základové pasy z betonu tř. C 16/20", quantity="20", object_code="SO 02"),
        rebar("9.0", object_code="SO 02"),  # 450 kg/m3
    ]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.GREEN, Status.GREEN, Status.AMBER, Status.AMBER]


def test_otskp_items_are_paired_by_their_group() -> None:
    positions = [
        concrete("ZÁKLADY ZE ŽELEZOBETONU DO C30/37", code="272325", unit="M3", quantity="235.516"),
        rebar("38.64", code="272365", description="VÝZTUŽ ZÁKLADU Z OCELI 10505, B500B", unit="T"),
    ]
    verdicts = check(positions, context(positions))
    assert verdicts[0].evidence["kg_per_m3"] == Decimal("164.1")
    assert {v.status for v in verdicts} == {Status.GREEN}


def test_screeds_and_demolition_are_left_out() -> None:
    positions = [
        concrete("Mazanina tl přes 120 do 240 mm z betonu prostého tř. C 12/15", code="631311133", quantity="15"),
        rebar("0.218", code="631362021", description="Výztuž mazanin svařovanými sítěmi Kari"),
        concrete("BOURÁNÍ KONSTRUKCÍ ZE ŽELEZOBETONU S ODVOZEM DO 20KM", code="966168", unit="M3"),
    ]
    verdicts = check(positions, context(positions))
    assert [v.evidence for v in verdicts] == [{"applicable": False}] * 3


def test_formwork_area_against_concrete_volume() -> None:
    plausible = [concrete("Základové pasy z betonu tř. C 16/20", quantity="22.72"), formwork("21.20")]
    implausible = [concrete("Základové pasy z betonu tř. C 16/20", quantity="2"), formwork("212")]
    ok = check(plausible, context(plausible))
    bad = check(implausible, context(implausible))
    assert ok[1].status is Status.GREEN
    assert ok[1].evidence["m2_per_m3"] == Decimal("0.9")
    assert [v.status for v in bad] == [Status.AMBER, Status.AMBER]
    assert issue_types(bad[1]) == ["formwork_ratio"]


def test_formwork_removal_is_not_counted_twice() -> None:
    positions = [
        concrete("Základové pasy z betonu tř. C 16/20", quantity="22.72"),
        formwork("21.20"),
        formwork("21.20", code="274351122", description="Odstranění bednění základových pasů rovného"),
    ]
    verdicts = check(positions, context(positions))
    assert verdicts[1].evidence["formwork_m2"] == Decimal("21.20")
    assert verdicts[2].evidence == {"applicable": False}


def test_reinforced_concrete_without_any_reinforcement_is_amber() -> None:
    positions = [concrete("Sloupy nebo pilíře ze ŽB tř. C 20/25 bez výztuže", code="330321510", quantity="2.6")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["concrete_without_reinforcement"]
