"""Numbers as budgets write them ("1 234,56", "1234.56", "-12,5") turned into ``Decimal``.

One place decides how quantities and money are read and rounded, so every format agrees.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

QUANTITY_STEP = Decimal("0.0001")
MONEY_STEP = Decimal("0.01")

_SPACES = re.compile(r"[\s\u00a0\u2007\u202f']+")
_CURRENCY = re.compile(r"(?i)(?:\s*(?:kč|czk|,-|\.-))+$")
_DASHES = frozenset({"-", "\u2013", "\u2014"})
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class InvalidNumber(ValueError):
    """The value is present but is not a number (e.g. "abc", "12,5,3x")."""


def parse_decimal(value: object) -> Decimal | None:
    """Read a cell or text as a ``Decimal``; ``None`` when empty, ``InvalidNumber`` when garbage.

    Accepts decimal commas or points, spaces / non-breaking spaces as thousands separators, a
    trailing "Kč"/"CZK", and floats from spreadsheets (via their shortest ``repr``).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidNumber(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        return _finite(value, value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _finite(Decimal(repr(value)), value)
    text = str(value).strip().replace("\u2212", "-")
    if not text or text in _DASHES:
        return None
    text = _SPACES.sub("", _CURRENCY.sub("", text))
    if not text:
        raise InvalidNumber(f"not a number: {value!r}")
    text = _normalise_separators(text)
    if not _PLAIN.fullmatch(text):
        raise InvalidNumber(f"not a number: {value!r}")
    return Decimal(text)


def parse_number_or_none(value: object) -> Decimal | None:
    """``parse_decimal`` for values that are only kept for reference: garbage reads as ``None``."""
    try:
        return parse_decimal(value)
    except InvalidNumber:
        return None


def plain_number(value: Decimal | None) -> str | None:
    """A quantity as short text for metadata: 4 dp at most, no trailing zeros ("0.63", "100.8", "4")."""
    if value is None:
        return None
    text = f"{quantize_quantity(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _normalise_separators(text: str) -> str:
    """Make the decimal separator a point and drop thousands separators."""
    commas, points = text.count(","), text.count(".")
    if commas and points:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        text = text.replace(thousands, "")
        return text.replace(",", ".")
    if commas > 1:
        return text.replace(",", "")
    if points > 1:
        return text.replace(".", "")
    return text.replace(",", ".")


def _finite(number: Decimal, original: object) -> Decimal:
    if not number.is_finite():
        raise InvalidNumber(f"not a finite number: {original!r}")
    return number


def quantize_quantity(value: Decimal) -> Decimal:
    """Quantities are kept to 4 decimal places (removes float noise such as 4.4879999999999995)."""
    return _quantize(value, QUANTITY_STEP)


def quantize_money(value: Decimal) -> Decimal:
    """Money is kept to 0.01 CZK, rounded half-up as budgets round each line."""
    return _quantize(value, MONEY_STEP)


def line_total(quantity: Decimal | None, unit_price: Decimal | None) -> Decimal | None:
    """Quantity × unit price rounded half-up to 0.01, or ``None`` when either is missing."""
    if quantity is None or unit_price is None:
        return None
    return quantize_money(quantity * unit_price)


def _quantize(value: Decimal, step: Decimal) -> Decimal:
    try:
        return value.quantize(step, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # absurdly large values exceed the context precision
        raise InvalidNumber(f"number out of range: {value}") from exc
