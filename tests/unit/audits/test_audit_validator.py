from __future__ import annotations

from app.domain.audits.experts import Status
from app.domain.audits.experts.validator import check
from tests.unit.audits.audit_builders import context, issue_types, position


def test_complete_priced_position_is_green() -> None:
    positions = [position()]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert verdict.expert == "validator"
    assert verdict.confidence == 100


def test_total_that_is_not_quantity_times_price_is_red() -> None:
    positions = [position(quantity="68.16", unit_price="332.00", total_price="23000.00")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.RED
    assert issue_types(verdict) == ["total_mismatch"]
    assert verdict.evidence["expected_total"] == "22629.12"


def test_total_within_rounding_is_accepted() -> None:
    # KROS rounds the quantity to 0.001 and the line to 0.01; a cent of difference is fine
    positions = [position(quantity="1.818", unit_price="56700.00", total_price="103080.61")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN


def test_priced_budget_with_zero_unit_price_is_amber() -> None:
    positions = [position(), position(code="274313611", description="Základové pasy", unit_price="0")]
    verdicts = check(positions, context(positions))
    assert verdicts[1].status is Status.AMBER
    assert issue_types(verdicts[1]) == ["missing_unit_price"]


def test_blank_budget_does_not_ask_for_prices() -> None:
    positions = [position(unit_price="0"), position(code="274313611", description="Pasy", unit_price=None)]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.GREEN, Status.GREEN]
    assert all(not v.issues and "price" not in v.reasoning for v in verdicts)  # said once, per budget


def test_a_few_prefilled_prices_do_not_make_a_priced_budget() -> None:
    blank = [position(unit_price="0", object_code=f"SO {n}") for n in range(5)]
    prefilled = position(code="274313611", description="Rezerva", unit="kpl", quantity="1", unit_price="50000")
    verdicts = check([*blank, prefilled], context([*blank, prefilled]))
    assert {v.status for v in verdicts} == {Status.GREEN}


def test_blank_position_is_judged_on_what_it_has() -> None:
    positions = [position(unit_price="0", quantity=None), position(unit_price="0", unit=None, object_code="SO 2")]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.AMBER, Status.AMBER]  # not RED: no money depends on it


def test_missing_fields() -> None:
    positions = [
        position(description="  "),
        position(quantity=None, object_code="SO 02"),
        position(quantity="0", object_code="SO 03"),
        position(unit=None, object_code="SO 04"),
        position(unit="us", object_code="SO 05"),
    ]
    verdicts = check(positions, context(positions))
    assert [issue_types(v) for v in verdicts] == [
        ["missing_description"],
        ["missing_quantity"],
        ["zero_quantity"],
        ["missing_unit"],
        ["unknown_unit"],
    ]
    # RED only where money is at stake: a priced position without quantity or unit
    assert [v.status for v in verdicts] == [Status.AMBER, Status.RED, Status.AMBER, Status.RED, Status.GREEN]
    assert verdicts[4].issues[0].severity is Status.GREEN  # an unknown unit is information


def test_units_are_known_regardless_of_case_and_synonyms() -> None:
    units = ("M3", "ks", "KPL", "soubor", "hod", "m²", "litr")
    positions = [position(unit=unit, object_code=f"SO {unit}") for unit in units]
    assert {v.status for v in check(positions, context(positions))} == {Status.GREEN}


def test_duplicates_in_the_same_object_are_amber() -> None:
    twin_a = position(id="a")
    twin_b = position(id="b", description="Hloubení  rýh nezapažených š do 2000 mm STROJNĚ", quantity="68.160")
    elsewhere = position(id="c", object_code="SO 02")
    other_quantity = position(id="d", quantity="12.5")
    positions = [twin_a, twin_b, elsewhere, other_quantity]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.AMBER, Status.AMBER, Status.GREEN, Status.GREEN]
    assert verdicts[0].evidence["duplicates"] == ("b",)
    assert issue_types(verdicts[1]) == ["duplicate"]


def test_change_order_and_credit_lines_are_information() -> None:
    less_work = position(quantity="-2.5", unit_price="3450.00")  # méněpráce: total -8,625.00
    credit = position(unit="kpl", quantity="1", unit_price="-12000.00", object_code="SO 02")
    verdicts = check([less_work, credit], context([less_work, credit]))
    assert [v.status for v in verdicts] == [Status.GREEN, Status.GREEN]
    assert [issue_types(v) for v in verdicts] == [["negative_quantity"], ["negative_unit_price"]]
    wrong_sign = position(quantity="-2.5", unit_price="3450.00", total_price="8625.00", object_code="SO 03")
    assert check([wrong_sign], context([wrong_sign]))[0].status is Status.RED  # the total does not add up
