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


LOSSY_CSV = (
    "Kód;Popis;MJ;Množství;J.cena [CZK];Cena celkem\r\n"
    "273321311;Železobeton základových desek C 25/30;m3;12,5;4 150,00;51 875,00\r\n"
    "274351121;Bednění základových pasů;;21,2;421,00;8 925,20\r\n"
    "274361821\tVýztuž základových pasů\tt\t1,818\t56 700,00\t103 080,60\r\n"
    "631311133;Mazanina C 12/15;m3;15,12;4 860,00;73 483,20\r\n"
    "998011001;Přesun hmot;t;355,87;12,30;4 377,20\r\n"
)


@pytest.mark.parametrize("encoding", ["cp1250", "iso8859_2", "cp852", "utf-8"])
def test_no_row_is_lost_an_empty_unit_and_a_tab_separated_row_are_positions_with_warnings(encoding: str) -> None:
    document = parse_document(LOSSY_CSV.encode(encoding), "rozpocet.csv")

    assert document.metadata["encoding"] == encoding
    assert [p.code for p in document.positions] == ["273321311", "274351121", "274361821", "631311133", "998011001"]
    formwork, rebar = document.positions[1], document.positions[2]
    assert formwork.unit is None and formwork.total_price == Decimal("8925.20")
    assert (rebar.description, rebar.unit, rebar.total_price) == ("Výztuž základových pasů", "t", Decimal("103080.60"))
    assert [(w.line, w.message) for w in document.warnings] == [
        (3, "position 274351121: a priced position without a unit (MJ); read as a position, check the unit"),
        (4, "the row uses tab as separator, the header ';'; read with tab"),
    ]
    assert document.skipped == {} and document.skipped_rows == []


def test_rows_that_are_not_positions_are_counted_and_listed_with_line_and_reason() -> None:
    rows = [
        ("Kód", "Popis", "MJ", "Množství", "J.cena", "Cena celkem"),
        ("1", "Zemní práce", "", "", "", ""),
        ("131251102", "Hloubení jam", "m3", "45,5", "310", "14 105,00"),
        ("", "", "", "", "", "14 105,00"),
        ("", "Celkem za díl 1", "", "", "", "14 105,00"),
        ("", "", "", "", "", ""),
        ("998011001", "Přesun hmot; budovy zděné", "t", "10", "12", "120", "navíc"),
        ("274313611", "", "", "", "", ""),
    ]

    document = parse_document(csv_bytes(rows), "rozpocet.csv")

    assert [p.code for p in document.positions] == ["131251102", "998011001", "274313611"]
    assert document.skipped == {"section": 1, "summary": 2}
    assert [(row.line, row.kind) for row in document.skipped_rows] == [(2, "section"), (4, "summary"), (5, "summary")]
    assert all(row.reason for row in document.skipped_rows)
    messages = [(w.line, w.message) for w in document.warnings]
    assert (
        7,
        "the row has 7 fields, the header 6: an unquoted separator inside a value? "
        "Values past the last column are ignored: navíc",
    ) in messages
    assert (8, "position 274313611: a position without a unit (MJ); read as a position, check the unit") in messages
    assert (8, "position 274313611: no quantity and no price") in messages
