"""The rule for negative amounts (README: "Negative amounts"), as a pure function."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.budgets.changes import sign_problems


def d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@pytest.mark.parametrize(
    ("quantity", "unit_price", "total", "fields"),
    [
        ("12.5", "3450", None, []),
        ("-12.5", "3450", None, []),  # méněpráce: less work at the normal price
        ("1", "-5000", None, []),  # sleva / dobropis: a credit line
        (None, None, "-5000", []),  # a lump-sum credit with only a total
        ("-12.5", "3450", "-43125", []),
        ("0", "-1", "5", []),  # nothing to compare against a zero product
        ("-1", "-5000", None, ["quantity", "unit_price"]),
        ("-1", "-5000", "5000", ["quantity", "unit_price"]),
        ("-12.5", "3450", "43125", ["total_price"]),
        ("2", "100", "-200", ["total_price"]),
        ("Infinity", "-1", None, []),  # not a number yet: decimal_problem names it
    ],
)
def test_sign_rule(quantity: str | None, unit_price: str | None, total: str | None, fields: list[str]) -> None:
    values = {"quantity": d(quantity), "unit_price": d(unit_price), "total_price": d(total)}
    assert [field for field, _ in sign_problems(values)] == fields
