"""KROS Excel: header found by labels, D/K/M/PP/PSC/VV/P rows, objects from cover and recap, warnings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.budgets.records import DocumentParseError, ParsedDocument
from app.domain.documents.parsers import parse_document
from app.domain.documents.parsers.kros_excel import parse_kros_excel
from app.domain.documents.parsers.workbook import Workbook
from tests.fixtures.budget_files import (
    SAMPLE_BUDGET,
    SAMPLE_BUDGET_POSITIONS,
    Budget,
    SiteObject,
    kros_xlsx_bytes,
    plain_xlsx_bytes,
)


def parse(data: bytes) -> ParsedDocument:
    return parse_kros_excel(Workbook(data))


def test_rows_under_headers_at_different_rows() -> None:
    document = parse_document(kros_xlsx_bytes(), "soupis.xlsx")

    assert document.format == "kros_xlsx"
    assert len(document.positions) == SAMPLE_BUDGET_POSITIONS
    lines = {p.metadata["sheet"]: p.source_line for p in reversed(document.positions)}
    # headers at rows 14, 51 and 88; then a total row and two D rows before the first item
    assert lines == {"SO 01.1 - Stavební část": 18, "SO 01.2 - Elektroinstalace": 55, "SO 02 - Zpevněné plochy": 92}


def test_item_rows_and_their_details() -> None:
    positions = {p.code: p for p in parse(kros_xlsx_bytes()).positions}

    footing = positions["274313711"]
    assert footing.item_type == "K"
    assert footing.unit == "m3"
    assert footing.quantity == Decimal("20.4450")
    assert footing.unit_price == Decimal("3412.50")
    assert footing.total_price == Decimal("69768.56")
    assert footing.full_description == "Základové pásy z betonu tř. C 20/25 XC2, včetně ošetření povrchu"
    assert footing.measurements == ["56,8*0,6*0,6", "0,6*0,5*0,5*-1,6"]
    assert footing.category == "2 - Zakládání"
    assert footing.metadata["section_path"] == ["HSV - Práce a dodávky HSV", "2 - Zakládání"]
    assert footing.metadata["vat_rate_type"] == "základní"
    concrete = positions["58932934"]
    assert (concrete.item_type, concrete.description) == ("M", "beton C 20/25 XC2 XA1 kamenivo do 22 mm")
    assert positions["132151253"].metadata["price_set_note"] == "Ceny jsou určeny pro hloubení rýh šířky do 2 000 mm."
    assert positions["34111030"].metadata["notes"] == ["Délka dle výkresu E-02."]


def test_sections_switch_between_groups() -> None:
    categories = [p.category for p in parse(kros_xlsx_bytes()).positions]

    assert categories == [
        "1 - Zemní práce",
        "1 - Zemní práce",
        "2 - Zakládání",
        "2 - Zakládání",
        "99 - Přesun hmot",
        "711 - Izolace proti vodě, vlhkosti a plynům",
        "711 - Izolace proti vodě, vlhkosti a plynům",
        "21-M - Elektromontáže",
        "21-M - Elektromontáže",
        "5 - Komunikace pozemní",
        "5 - Komunikace pozemní",
        "VRN1 - Průzkumné, geodetické a projektové práce",
    ]


def test_nested_objects_from_soupis_label() -> None:
    document = parse(kros_xlsx_bytes())

    electro = next(p for p in document.positions if p.code == "210100001")
    assert (electro.object_code, electro.object_name) == ("SO 01.2", "Elektroinstalace")
    assert electro.metadata["object_path"] == "SO 01/SO 01.2"
    assert [(o.code, o.parent_code) for o in document.objects] == [
        ("SO 01", None),
        ("SO 01.1", "SO 01"),
        ("SO 01.2", "SO 01"),
        ("SO 02", None),
    ]
    assert document.metadata["stavba_code"] == "2025-017"


def test_truncated_sheet_names_take_the_object_name_from_the_recap() -> None:
    long_name = "Přeložka a ochrana veřejného osvětlení podél silnice I/26"
    budget = Budget(
        code="B",
        name="Stavba",
        date="1. 2. 2026",
        objects=(SiteObject(code="441", name=long_name, sections=SAMPLE_BUDGET.objects[1].sections),),
    )

    document = parse(kros_xlsx_bytes(budget))

    assert {p.object_name for p in document.positions} == {long_name}
    assert document.positions[0].metadata["sheet"] == "441 - Přeložka a ochrana veřejn"  # 31 characters
    assert document.metadata["date"] == "2026-02-01"


def test_a_bad_number_is_kept_with_a_warning() -> None:
    rows = [
        ("Kód", "Popis", "MJ", "Množství", "J.cena [CZK]", "Cena celkem [CZK]"),
        ("1", "Zemní práce"),
        ("131251100", "Hloubení jam nezapažených v hornině třídy těžitelnosti I", "m3", 45.2, 310.5, None),
        ("162751117", "Vodorovné přemístění výkopku do 10 000 m", "m3", "45,2 m3", 220.0, None),
        ("998011001", "Přesun hmot pro budovy zděné", "t", "1 250,5", "12,30", "15 381,15"),
    ]

    document = parse_document(plain_xlsx_bytes(rows, start_row=7))

    assert document.format == "kros_xlsx"
    assert [p.code for p in document.positions] == ["131251100", "162751117", "998011001"]
    assert [p.category for p in document.positions] == ["1 - Zemní práce"] * 3
    assert document.positions[0].total_price == Decimal("14034.60")
    assert document.positions[1].quantity is None
    assert document.positions[2].quantity == Decimal("1250.5000")
    assert document.positions[2].total_price == Decimal("15381.15")
    assert len(document.warnings) == 1
    warning = document.warnings[0]
    assert (warning.line, warning.sheet) == (10, "Rozpočet")
    assert warning.message == "position 162751117: quantity is not a number: '45,2 m3'"


def test_workbook_without_budget_header_is_an_error() -> None:
    data = plain_xlsx_bytes([("Název", "Hodnota"), ("Beton", "C30/37")])

    with pytest.raises(DocumentParseError, match="no sheet with a budget header"):
        parse_document(data)
    with pytest.raises(DocumentParseError, match="no sheet with a budget header"):
        parse(data)
