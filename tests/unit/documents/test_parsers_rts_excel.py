"""RTS / BUILDpower Excel: S:/O:/R: rows, Díl: sections, POP and VV rows, with and without record types."""

from __future__ import annotations

from decimal import Decimal

from app.domain.budgets.records import BudgetObject
from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import rts_xlsx_bytes


def test_item_sheets_become_positions() -> None:
    document = parse_document(rts_xlsx_bytes(), "rozpocet.xlsx")

    assert document.format == "rts_xlsx"
    assert [p.code for p in document.positions] == [
        "113107222",
        "274321411",
        "58932934",
        "998767202",
        "210810046",
        "341110360",
        "R-PM",
    ]
    assert [p.item_type for p in document.positions] == ["K", "K", "M", "K", "K", "M", "K"]
    assert document.metadata == {"stavba_code": "R-07", "stavba_name": "Sklad posypové soli Březnice"}
    assert document.objects == [
        BudgetObject(code="SO01", name="Hala skladu"),
        BudgetObject(code="01", name="Stavební část", parent_code="SO01"),
        BudgetObject(code="SO02", name="Přípojka NN"),
        BudgetObject(code="01", name="Elektroinstalace", parent_code="SO02"),
    ]


def test_record_type_column_sorts_pop_and_vv_rows() -> None:
    first = parse_document(rts_xlsx_bytes()).positions[0]

    assert first.description == "Odstranění podkladu z kameniva drceného tl 200 mm strojně"
    assert first.full_description == "Strojní odstranění štěrkového lože frakce 16/32 tl. 150 mm."
    assert first.measurements == ["(21,292*9,307) :", "198,165"]
    assert first.quantity == Decimal("198.1650")
    assert first.unit_price is None  # a blank budget: the price cell is empty
    assert first.total_price == Decimal("0.00")
    assert first.catalog == "RTS 24/ II"
    assert first.category == "1 - Zemní práce"
    assert (first.object_code, first.object_name) == ("SO01", "Hala skladu")
    assert first.metadata["object_path"] == "SO01/01"
    assert first.metadata["record_type"] == "POL1_1"
    assert first.source_line == 9


def test_sheet_without_record_types_is_read_by_row_shape() -> None:
    document = parse_document(rts_xlsx_bytes())
    mounting, cable, extra = document.positions[4:]

    assert mounting.full_description == "Kabel veden v chráničce."
    assert mounting.unit_price == Decimal("35.50")
    assert mounting.total_price == Decimal("5680.00")
    assert mounting.category == "M21 - Elektromontáže"
    assert cable.full_description is None
    assert cable.measurements == ["160*1,05", "168"]
    assert cable.total_price == Decimal("4855.20")
    assert extra.quantity is None
    assert [(w.line, w.sheet, w.message) for w in document.warnings] == [
        (14, "SO02 01 Pol", "position 3: quantity is not a number: 'čtyři'")
    ]


def test_empty_quantity_is_not_a_warning() -> None:
    transfer = parse_document(rts_xlsx_bytes()).positions[3]

    assert (transfer.unit, transfer.quantity) == ("%", None)
    assert transfer.category == "2 - Základy a zvláštní zakládání"
