"""Numbers as budgets write them: decimal commas, thousands separators, floats from spreadsheets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.documents.parsers.numbers import (
    InvalidNumber,
    line_total,
    parse_decimal,
    quantize_money,
    quantize_quantity,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,56", Decimal("1234.56")),
        ("1234.56", Decimal("1234.56")),
        ("1\u00a0234,5", Decimal("1234.5")),
        ("1\u202f234,5", Decimal("1234.5")),
        ("-12,5", Decimal("-12.5")),
        ("\u221212,5", Decimal("-12.5")),
        ("1.234.567,89", Decimal("1234567.89")),
        ("1,234,567.89", Decimal("1234567.89")),
        ("1,234", Decimal("1.234")),
        ("1 000,- Kč", Decimal("1000")),
        ("25 600,00 CZK", Decimal("25600.00")),
        ("0,034", Decimal("0.034")),
        (".5", Decimal("0.5")),
    ],
)
def test_text_numbers(text: str, expected: Decimal) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize("empty", ["", "   ", None, "-", "\u2013"])
def test_empty_is_none(empty: str | None) -> None:
    assert parse_decimal(empty) is None


@pytest.mark.parametrize("garbage", ["abc", "12,5,3x", "1e5", "x25 600", "NaN", "--1", True])
def test_garbage_raises(garbage: object) -> None:
    with pytest.raises(InvalidNumber):
        parse_decimal(garbage)


def test_floats_from_spreadsheets_use_their_shortest_repr() -> None:
    assert parse_decimal(68.16) == Decimal("68.16")
    assert parse_decimal(4.4879999999999995) == Decimal("4.4879999999999995")
    assert parse_decimal(7e-05) == Decimal("0.00007")
    assert parse_decimal(12) == Decimal(12)
    with pytest.raises(InvalidNumber):
        parse_decimal(float("inf"))


def test_rounding_is_half_up_to_four_and_two_places() -> None:
    assert quantize_quantity(Decimal("4.4879999999999995")) == Decimal("4.4880")
    assert quantize_quantity(Decimal("246.13445")) == Decimal("246.1345")
    assert quantize_money(Decimal("1280.525")) == Decimal("1280.53")
    assert quantize_money(Decimal("-0.005")) == Decimal("-0.01")


def test_line_total_rounds_each_line() -> None:
    assert line_total(Decimal("2.5"), Decimal("512.21")) == Decimal("1280.53")
    assert line_total(Decimal("20.445"), Decimal("3412.50")) == Decimal("69768.56")
    assert line_total(None, Decimal("1")) is None
    assert line_total(Decimal("1"), None) is None
