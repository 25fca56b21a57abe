"""Index price columns: the unit price is the one that multiplies to the line total (the indexed one)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import CALCULATION_ITEMS, calculation_rows, calculation_xls_bytes, plain_xlsx_bytes


@pytest.mark.parametrize("kind", ["xls", "xlsx"])
def test_the_indexed_unit_price_multiplies_to_the_total_and_the_raw_one_is_kept(kind: str) -> None:
    data = calculation_xls_bytes() if kind == "xls" else plain_xlsx_bytes(calculation_rows(), start_row=1)
    if kind == "xls":
        assert data.startswith(b"\xd0\xcf\x11\xe0")  # a real BIFF (OLE2) file, not an xlsx

    document = parse_document(data, f"kalkulace.{kind}")

    assert document.format == "kros_xlsx"
    assert [p.code for p in document.positions] == [item[0] for item in CALCULATION_ITEMS]
    for position in document.positions:
        assert position.quantity is not None and position.unit_price is not None
        assert (position.quantity * position.unit_price).quantize(Decimal("0.01")) == position.total_price
    dig, footing, rebar, transfer = document.positions
    assert (dig.unit_price, dig.metadata["unit_price_not_indexed"], dig.metadata["price_index"]) == (
        Decimal("347.20"),
        "310",
        "1.12",
    )
    assert footing.unit_price == Decimal("4502.75") and footing.metadata["unit_price_not_indexed"] == "4150"
    assert rebar.unit_price == Decimal("56700.00")
    assert transfer.unit_price == Decimal("14.76")  # no indexed cell: raw × index
    assert footing.metadata["unit_price_assembly"] == "2701.65"
    assert footing.category == "1 - Zemní práce"
    assert document.skipped == {"section": 1, "summary": 1}
    assert document.warnings == []


def test_without_a_total_the_indexed_price_is_taken() -> None:
    rows = [
        ("Kód", "Popis", "MJ", "Množství", "Jednotková cena neindex.", "Index ceny", "J. cena indexovaná"),
        ("274313611", "Základové pásy z betonu tř. C 16/20", "m3", 10.0, 4000.0, 1.1, 4400.0),
    ]

    [position] = parse_document(plain_xlsx_bytes(rows)).positions

    assert position.unit_price == Decimal("4400.00")
    assert position.total_price == Decimal("44000.00")
