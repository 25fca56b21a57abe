"""Pure rules of budget versions: rounding, amounts that fit their columns, diffs, import matching."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from app.domain.budgets.changes import (
    NewPosition,
    apply_modification,
    decimal_problem,
    field_changes,
    line_total,
    match_replacement,
)
from app.domain.budgets.records import PositionRecord


@pytest.mark.parametrize(
    ("quantity", "price", "total"),
    [
        ("0.125", "1.00", "0.13"),  # half-up, not banker's rounding
        ("0.333", "10.05", "3.35"),
        ("-2", "10.005", "-20.01"),
        ("12.5", "3450.00", "43125.00"),
    ],
)
def test_line_total_rounds_half_up_to_the_cent(quantity: str, price: str, total: str) -> None:
    assert line_total(Decimal(quantity), Decimal(price)) == Decimal(total)


def test_line_total_needs_both_factors() -> None:
    assert line_total(None, Decimal(1)) is None
    assert line_total(Decimal(1), None) is None


@pytest.mark.parametrize(
    ("value", "places", "digits", "problem"),
    [
        ("1.2345", 4, 11, None),
        ("1.23456", 4, 11, "at most 4 decimal places"),
        ("1E+13", 2, 13, "smaller than 10^13"),
        ("NaN", 2, 13, "finite"),
        # Past the decimal context's exponent range: abs() of it would raise decimal.Overflow.
        ("1E+1000000", 4, 11, "smaller than 10^11"),
        ("-9.9E+999999", 2, 13, "smaller than 10^13"),
        ("99999999999.9999", 4, 11, None),
        ("-0", 4, 11, None),
    ],
)
def test_decimal_problem(value: str, places: int, digits: int, problem: str | None) -> None:
    found = decimal_problem(Decimal(value), places=places, integer_digits=digits)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_a_new_quantity_recomputes_the_total_unless_one_is_given() -> None:
    before = {"quantity": Decimal("2"), "unit_price": Decimal("10.00"), "total_price": Decimal("20.00")}
    assert apply_modification(before, {"quantity": Decimal(3)})["total_price"] == Decimal("30.00")
    assert apply_modification(before, {"quantity": Decimal(3), "total_price": Decimal(1)})["total_price"] == 1
    assert apply_modification(before, {"notes": "x"})["total_price"] == Decimal("20.00")
    with pytest.raises(ValueError, match="unknown position fields"):
        apply_modification(before, {"owner": "me"})


def test_field_changes_compare_decimals_by_value_and_name_metadata_plainly() -> None:
    before = {"quantity": Decimal("2.0000"), "metadata_": {"a": 1}, "status": None}
    after = {"quantity": Decimal("2"), "metadata_": {"a": 2}, "status": "RED"}
    assert field_changes(before, after) == {
        "metadata": {"before": {"a": 1}, "after": {"a": 2}},
        "status": {"before": None, "after": "RED"},
    }


def test_records_keep_what_has_no_column_in_metadata() -> None:
    record = PositionRecord(
        description="Beton", object_code="SO 01", catalog="ÚRS", measurements=["2*3"], metadata={"x": 1}
    )
    position = NewPosition.from_record(record, source_document_id=uuid.UUID(int=1))
    assert position.metadata == {"x": 1, "object_code": "SO 01", "catalog": "ÚRS", "measurements": ["2*3"]}
    assert position.source == "uploaded"
    assert position.source_document_id == uuid.UUID(int=1)


def test_an_import_continues_lineages_by_unique_keys() -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    old = {
        a: {"position_number": "1", "code": "111", "description": "Výkop"},
        b: {"position_number": "2", "code": "222", "description": "Beton"},
        c: {"position_number": "3", "code": "333", "description": "Bednění"},
        d: {"position_number": "3", "code": "333", "description": "Bednění"},  # ambiguous: never matched
    }
    new = [
        NewPosition(position_number="1", code="111", description="Výkop jámy"),  # same number and code
        NewPosition(position_number="9", code="222", description="Beton"),  # renumbered: code + description
        NewPosition(position_number="3", code="333", description="Bednění"),
        NewPosition(position_number="4", code="444", description="Nová"),
    ]
    assert [lineage for lineage, _ in match_replacement(old, new)] == [a, b, None, None]


def test_an_explicit_lineage_wins() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    old = {a: {"code": "1", "description": "x"}, b: {"code": "2", "description": "y"}}
    new = [NewPosition(code="1", description="x", lineage_id=b), NewPosition(code="1", description="x")]
    # b is taken explicitly; the other one then continues a, the only old position with its key.
    assert [lineage for lineage, _ in match_replacement(old, new)] == [b, a]
