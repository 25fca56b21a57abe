"""CSV budgets: Czech (cp1250, ';', decimal commas, spaces as thousands) and English (UTF-8, ',')."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.budgets.records import DocumentParseError
from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import CZECH_CSV_ROWS, ENGLISH_CSV_ROWS, csv_bytes


def test_czech_cp1250_semicolons_and_thousands_separators() -> None:
    data = csv_bytes(CZECH_CSV_ROWS, delimiter=";", encoding="cp1250")

    document = parse_document(data, "rozpocet.csv")

    assert document.format == "csv"
    assert document.metadata == {"encoding": "cp1250", "delimiter": ";"}
    wall, formwork, rebar = document.positions
    assert wall.description == "Opěrné zdi a valy ze ŽB tř. C 30/37 XF4"
    assert wall.full_description == "Opěrné zdi z betonu železového C 30/37 XF4, provzdušněný (obsah vzduchu 5 %)"
    assert (wall.quantity, wall.unit_price, wall.total_price) == (
        Decimal("48.5000"),
        Decimal("4512.40"),
        Decimal("218851.40"),
    )
    assert wall.measurements == ["24,25*2"]
    assert wall.category == "3 - Svislé a kompletní konstrukce"
    assert wall.source_line == 5
    assert formwork.quantity == Decimal("1212.5000")
    assert formwork.total_price == Decimal("1188492.50")
    assert (rebar.item_type, rebar.unit) == ("M", "t")
    assert rebar.metadata["notes"] == ["Ocel dodá objednatel."]


def test_unreadable_price_is_warned_and_the_row_kept() -> None:
    document = parse_document(csv_bytes(CZECH_CSV_ROWS))

    rebar = document.positions[2]
    assert (rebar.code, rebar.unit_price, rebar.total_price) == ("13021015", None, None)
    assert [(w.line, w.message) for w in document.warnings] == [
        (9, "position 3: unit price is not a number: 'x25 600'")
    ]


@pytest.mark.parametrize("bom", [False, True], ids=["utf8", "utf8_bom"])
def test_utf8_with_or_without_bom(bom: bool) -> None:
    data = csv_bytes(CZECH_CSV_ROWS, encoding="utf-8", bom=bom)

    document = parse_document(data)

    assert document.metadata["encoding"] == ("utf-8-sig" if bom else "utf-8")
    assert document.positions[0].description == "Opěrné zdi a valy ze ŽB tř. C 30/37 XF4"


def test_english_header_commas_and_objects() -> None:
    data = csv_bytes(ENGLISH_CSV_ROWS, delimiter=",", encoding="utf-8")

    document = parse_document(data, "budget.csv")

    assert document.metadata["delimiter"] == ","
    slab, formwork, transfer = document.positions
    assert (slab.code, slab.unit, slab.quantity) == ("273321311", "m3", Decimal("25.5000"))
    assert (slab.unit_price, slab.total_price) == (Decimal("4150.00"), Decimal("105825.00"))
    assert formwork.total_price == Decimal("9225.00")
    assert (transfer.unit_price, transfer.total_price) == (Decimal("-12.50"), Decimal("-765.00"))
    assert (slab.category, slab.object_code, transfer.object_code) == ("2 - Foundations", "SO 01", "SO 02")
    assert [o.code for o in document.objects] == ["SO 01", "SO 02"]


def test_tab_separated_utf16_from_excel_unicode_text() -> None:
    rows = [("Kód", "Popis", "MJ", "Množství"), ("273321311", "Železobeton základových desek", "m3", "12,5")]
    data = csv_bytes(rows, delimiter="\t", encoding="utf-16")

    document = parse_document(data)

    assert document.format == "csv"
    assert document.positions[0].quantity == Decimal("12.5000")


def test_csv_without_header_is_an_error_only_when_named_csv() -> None:
    data = csv_bytes([("a", "b"), ("1", "2")])

    with pytest.raises(DocumentParseError, match="no header row"):
        parse_document(data, "export.csv")
    assert parse_document(data, "poznamky.txt").format == "txt"


def test_header_without_rows_is_an_error() -> None:
    with pytest.raises(DocumentParseError, match="no position rows"):
        parse_document(csv_bytes([("Kód", "Popis", "MJ", "Množství")]))
