from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.audits.experts import Status
from app.domain.audits.experts.cost import check
from tests.unit.audits.audit_builders import concrete, context, issue_types, position, rebar


@pytest.mark.parametrize(
    ("price", "status", "deviation"),
    [
        ("332.00", Status.GREEN, Decimal("0.00")),
        ("375.00", Status.GREEN, Decimal("12.95")),
        ("400.00", Status.AMBER, Decimal("20.48")),
        ("150.00", Status.RED, Decimal("-54.82")),
        ("520.00", Status.RED, Decimal("56.63")),
    ],
)
def test_price_against_the_catalogue_reference(price: str, status: Status, deviation: Decimal) -> None:
    positions = [position(unit_price=price)]  # 132151253, reference 332.00 / m3
    [verdict] = check(positions, context(positions))
    assert verdict.status is status
    assert verdict.evidence["reference_source"] == "catalogue"
    assert verdict.evidence["deviation_pct"] == deviation
    assert verdict.needs_review is (abs(deviation) > 15)


def test_price_against_the_band_when_the_code_has_no_reference() -> None:
    inside = concrete("Železobeton základových pasů C 25/30", code="274321411", unit_price="5200.00")
    above = concrete("Železobeton základových pasů C 25/30", code="274321411", unit_price="9500.00")
    verdicts = check([inside, above], context([inside, above]))
    assert verdicts[0].status is Status.GREEN
    assert verdicts[0].evidence["reference_source"] == "band:urs_in_place_concrete"
    assert verdicts[1].status is Status.AMBER
    assert verdicts[1].evidence["deviation_pct"] == Decimal("35.71")


def test_otskp_concrete_and_reinforcement_bands() -> None:
    otskp = concrete(
        "MOSTNÍ OPĚRY A KŘÍDLA ZE ŽELEZOVÉHO BETONU DO C30/37", code="333325", unit="M3", unit_price="2900"
    )
    steel = rebar("2.5", code="333365", description="VÝZTUŽ MOSTNÍCH OPĚR Z OCELI 10505, B500B", unit_price="20000")
    verdicts = check([otskp, steel], context([otskp, steel]))
    assert verdicts[0].evidence["reference_source"] == "band:otskp_structural_concrete"
    assert verdicts[0].status is Status.RED  # 51.67 % below 6,000
    assert verdicts[1].evidence["reference_source"] == "band:reinforcement"
    assert verdicts[1].status is Status.AMBER  # 28.57 % below 28,000


def test_catalogue_reference_is_skipped_when_units_differ() -> None:
    positions = [position(code="274313611", unit="m2", description="Základové pasy z betonu", unit_price="400")]
    [verdict] = check(positions, context(positions))
    assert verdict.evidence.get("reference_source") != "catalogue"


def test_blank_budget_is_not_judged() -> None:
    positions = [position(unit_price="0"), concrete("Beton C25/30", unit_price="0")]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.GREEN, Status.GREEN]
    assert "not priced" in verdicts[0].reasoning


def test_outlier_against_the_same_code_in_the_project() -> None:
    code = "Pol7"  # no reference and no band: only the project median speaks
    same = [position(code=code, description="Atypické kotvení", unit="kus", unit_price=p) for p in ("100", "110", "95")]
    outlier = position(code=code, description="Atypické kotvení", unit="kus", unit_price="400")
    verdicts = check([*same, outlier], context([*same, outlier]))
    assert [v.status for v in verdicts] == [Status.GREEN, Status.GREEN, Status.GREEN, Status.AMBER]
    assert issue_types(verdicts[3]) == ["project_price_outlier"]
    assert verdicts[3].evidence["code_median"] == Decimal("105")
