from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.audits.experts import Status
from app.domain.audits.experts.cost import check
from tests.unit.audits.audit_builders import concrete, context, issue_types, position, rebar


@pytest.mark.parametrize(
    ("price", "status"),
    [
        ("332.00", Status.GREEN),  # the reference itself
        ("480.00", Status.GREEN),  # within reference × 1.5 = 498
        ("230.00", Status.GREEN),  # within reference / 1.5 = 221.33
        ("600.00", Status.AMBER),  # above the band, within 3 × its top
        ("1600.00", Status.RED),  # more than 3 × 498 (a price ×10 lands here)
        ("100.00", Status.AMBER),  # below the band, above a third of its bottom
        ("60.00", Status.RED),  # below a third of 221.33
    ],
)
def test_price_against_the_catalogue_reference_band(price: str, status: Status) -> None:
    positions = [position(unit_price=price)]  # 132151253, reference 332.00 / m3
    [verdict] = check(positions, context(positions))
    assert verdict.status is status
    assert verdict.evidence["reference_source"] == "catalogue"
    assert verdict.evidence["band_min"] == Decimal("221.33")
    assert verdict.evidence["band_max"] == Decimal("498.00")
    assert verdict.needs_review is (status is not Status.GREEN)
    if status is not Status.GREEN:
        assert issue_types(verdict) == ["price_outside_band"]
        assert "CS ÚRS 2025 02 132151253" in verdict.issues[0].description  # names its source


def test_price_against_the_band_when_the_code_has_no_reference() -> None:
    inside = concrete("Železobeton základových pasů C 25/30", code="274321411", unit_price="5200.00")
    above = concrete("Železobeton základových pasů C 25/30", code="274321411", unit_price="9500.00")
    far = concrete("Železobeton základových pasů C 25/30", code="274321412", unit_price="52000.00")
    verdicts = check([inside, above, far], context([inside, above, far]))
    assert verdicts[0].status is Status.GREEN
    assert verdicts[0].evidence["reference_source"] == "band:urs_in_place_concrete"
    assert verdicts[1].status is Status.AMBER
    assert verdicts[1].evidence["deviation_pct"] == Decimal("35.71")
    assert verdicts[2].status is Status.RED  # more than 3 × 7,000
    assert "2,500.00–7,000.00 CZK/m3" in verdicts[2].reasoning


def test_otskp_concrete_and_reinforcement_bands() -> None:
    otskp = concrete(
        "MOSTNÍ OPĚRY A KŘÍDLA ZE ŽELEZOVÉHO BETONU DO C30/37", code="333325", unit="M3", unit_price="2900"
    )
    steel = rebar("2.5", code="333365", description="VÝZTUŽ MOSTNÍCH OPĚR Z OCELI 10505, B500B", unit_price="8000")
    verdicts = check([otskp, steel], context([otskp, steel]))
    assert verdicts[0].evidence["reference_source"] == "band:otskp_structural_concrete"
    assert verdicts[0].status is Status.AMBER  # below 6,000 but above a third of it
    assert verdicts[1].evidence["reference_source"] == "band:reinforcement"
    assert verdicts[1].status is Status.RED  # below a third of 28,000


def test_catalogue_reference_is_skipped_when_units_differ() -> None:
    positions = [position(code="274313611", unit="m2", description="Základové pasy z betonu", unit_price="400")]
    [verdict] = check(positions, context(positions))
    assert verdict.evidence.get("reference_source") != "catalogue"


def test_positions_without_price_are_not_judged() -> None:
    positions = [position(unit_price="0"), concrete("Beton C25/30", unit_price=None)]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.GREEN, Status.GREEN]
    assert all(not v.issues for v in verdicts)


def test_same_code_priced_differently_in_the_budget() -> None:
    code = "Pol7"  # no reference and no band: only the other uses of the code speak
    same = [position(code=code, description="Atypické kotvení", unit="kus", unit_price=p) for p in ("100", "110")]
    outlier = position(code=code, description="Atypické kotvení", unit="kus", unit_price="400")
    verdicts = check([*same, outlier], context([*same, outlier]))
    assert [v.status for v in verdicts] == [Status.GREEN, Status.GREEN, Status.AMBER]
    assert issue_types(verdicts[2]) == ["same_code_price_differs"]
    assert verdicts[2].evidence["same_code_median"] == Decimal("110")


def test_price_far_from_its_tskp_class_peers() -> None:
    def wall(code: str, price: str) -> object:
        return position(code=code, description="Zdivo nosné z cihel", unit="m2", unit_price=price)

    peers = [wall("311235131", "1500"), wall("311235141", "1700"), wall("311235151", "1900")]
    fine, tenfold = wall("311235161", "2100"), wall("311235171", "17000")
    positions = [*peers, fine, tenfold]
    verdicts = check(positions, context(positions))  # type: ignore[arg-type]
    assert [v.status for v in verdicts] == [Status.GREEN] * 4 + [Status.AMBER]
    assert issue_types(verdicts[4]) == ["price_far_from_class_peers"]
    assert verdicts[4].evidence["class_peer_class"] == "31123"
