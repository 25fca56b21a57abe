"""Loose values of old JSON: Czech numbers, timestamps, status and workflow words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from app.domain.filestore.normalize import (
    map_status,
    map_verdict,
    map_workflow,
    normalise_key,
    parse_confidence,
    parse_datetime,
    parse_decimal,
    parse_int,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, Decimal(12)),
        (12.5, Decimal("12.5")),
        (0.1, Decimal("0.1")),
        (Decimal("3.10"), Decimal("3.10")),
        ("1 234,56", Decimal("1234.56")),
        ("1\u00a0234,56", Decimal("1234.56")),
        ("1.234,56", Decimal("1234.56")),
        ("1,234.56", Decimal("1234.56")),
        ("1.234.567", Decimal("1234567")),
        ("12,5", Decimal("12.5")),
        ("12.5", Decimal("12.5")),
        ("38.500,00 Kč", Decimal("38500.00")),
        ("2 450,- ", Decimal("2450")),
        ("-3,5", Decimal("-3.5")),
        ("\u22123,5", Decimal("-3.5")),
        ("1e3", Decimal("1e3")),
        ("", None),
        ("-", None),
        (None, None),
    ],
)
def test_parse_decimal(raw: Any, expected: Decimal | None) -> None:
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["asi 3", "12 ks", True, [1], {"a": 1}, float("nan"), "1,2,3.4.5x"])
def test_parse_decimal_refuses(raw: Any) -> None:
    with pytest.raises(ValueError):
        parse_decimal(raw)


def test_parse_int() -> None:
    assert parse_int("12") == 12
    assert parse_int(3.0) == 3
    assert parse_int(None) is None
    with pytest.raises(ValueError):
        parse_int("1,5")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-02-10T09:30:00Z", datetime(2024, 2, 10, 9, 30, tzinfo=UTC)),
        ("2024-02-10T10:30:00+01:00", datetime(2024, 2, 10, 9, 30, tzinfo=UTC)),
        ("2024-02-10 09:30:00", datetime(2024, 2, 10, 9, 30, tzinfo=UTC)),
        ("2024-02-10T09:30:00.250000", datetime(2024, 2, 10, 9, 30, 0, 250000, tzinfo=UTC)),
        ("2024-02-10", datetime(2024, 2, 10, tzinfo=UTC)),
        ("10.2.2024 9:30", datetime(2024, 2, 10, 9, 30, tzinfo=UTC)),
        ("10. 2. 2024", datetime(2024, 2, 10, tzinfo=UTC)),
        (1_707_557_400, datetime(2024, 2, 10, 9, 30, tzinfo=UTC)),
        (1_707_557_400_000, datetime(2024, 2, 10, 9, 30, tzinfo=UTC)),
        ("1707557400", datetime(2024, 2, 10, 9, 30, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_parse_datetime(raw: Any, expected: datetime | None) -> None:
    parsed = parse_datetime(raw)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_naive_times_in_a_given_zone() -> None:
    prague_winter = timezone(timedelta(hours=1))
    assert parse_datetime("2024-02-10 10:30:00", prague_winter) == datetime(2024, 2, 10, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["yesterday", "2024-13-45", True, {"d": 1}])
def test_parse_datetime_refuses(raw: Any) -> None:
    with pytest.raises(ValueError):
        parse_datetime(raw)


def test_words() -> None:
    assert map_workflow("A") == map_workflow("workflow-a") == map_workflow("Workflow A") == "workflow_a"
    assert map_workflow("b") == "workflow_b"
    assert map_workflow("C") is None
    assert map_status("Done") == "completed"
    assert map_status("uploaded") == "draft"
    assert map_status("ERROR") == "failed"
    assert map_status("weird") is None
    assert map_verdict("green") == "GREEN"
    assert map_verdict("warning") == "AMBER"
    assert map_verdict("Červená") == "RED"
    assert map_verdict("purple") is None


def test_confidence() -> None:
    assert parse_confidence(0.85) == 0.85
    assert parse_confidence("0,85") == 0.85
    assert parse_confidence("85 %") == pytest.approx(0.85)
    assert parse_confidence(None) is None


def test_normalise_key() -> None:
    assert normalise_key("Množství [m3]") == "mnozstvi_m3"
    assert normalise_key("J.cena [CZK]") == "j_cena_czk"
    assert normalise_key("PČ") == "pc"
