"""UNIXML (KROS XML): descriptions from zdroje, nested objects and sections, výkaz výměr, warnings."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.domain.budgets.records import BudgetObject, DocumentParseError
from app.domain.documents.parsers import parse_document
from app.domain.documents.parsers.unixml import parse_unixml
from tests.fixtures.budget_files import SAMPLE_BUDGET_POSITIONS, SAMPLE_BUDGET_TOTAL, unixml_bytes


def test_positions_totals_and_types() -> None:
    document = parse_document(unixml_bytes(), "export.xml")

    assert document.format == "unixml"
    assert len(document.positions) == SAMPLE_BUDGET_POSITIONS
    assert [p.item_type for p in document.positions].count("M") == 4
    assert sum(p.total_price or Decimal(0) for p in document.positions) == SAMPLE_BUDGET_TOTAL
    assert document.warnings == []


def test_description_unit_and_catalog_come_from_zdroje() -> None:
    first = parse_unixml(unixml_bytes()).positions[0]

    assert first.code == "121151113"
    assert first.description == "Sejmutí ornice plochy do 500 m2 tl vrstvy do 200 mm strojně"
    assert first.unit == "m2"
    assert first.catalog == "CS ÚRS 2025 02"
    assert first.quantity == Decimal("123.0000")
    assert first.unit_price == Decimal("29.10")
    assert first.total_price == Decimal("3579.30")
    assert first.position_number == "1"
    assert first.measurements == ["(14+1)*(7,2+1)"]


def test_full_description_notes_and_price_set_note() -> None:
    positions = {p.code: p for p in parse_unixml(unixml_bytes()).positions}

    assert positions["274313711"].full_description == (
        "Základové pásy z betonu tř. C 20/25 XC2, včetně ošetření povrchu"
    )
    assert positions["121151113"].full_description is None
    assert positions["711111001"].metadata["notes"] == ["Penetrace pod pásy z modifikovaného asfaltu."]
    assert positions["132151253"].metadata["price_set_note"].startswith("Ceny jsou určeny")


def test_half_up_rounding_of_a_computed_total() -> None:
    transfer = next(p for p in parse_unixml(unixml_bytes()).positions if p.code == "998011001")

    assert transfer.total_price == Decimal("1280.53")  # 2.5 × 512.21 = 1280.525


def test_nested_objects_and_sections() -> None:
    document = parse_unixml(unixml_bytes())

    assert document.objects == [
        BudgetObject(code="SO 01", name="Rodinný dům"),
        BudgetObject(code="SO 01.1", name="Stavební část", parent_code="SO 01"),
        BudgetObject(code="SO 01.2", name="Elektroinstalace", parent_code="SO 01"),
        BudgetObject(code="SO 02", name="Zpevněné plochy"),
    ]
    cable = next(p for p in document.positions if p.code == "34111030")
    assert (cable.object_code, cable.object_name) == ("SO 01.2", "Elektroinstalace")
    assert cable.metadata["object_path"] == "SO 01/SO 01.2"
    assert cable.category == "21-M - Elektromontáže"
    assert cable.metadata["section_path"] == ["M - Práce a dodávky M", "21-M - Elektromontáže"]
    assert cable.position_number == "2"
    survey = next(p for p in document.positions if p.code == "012103000")
    assert survey.catalog is None
    assert survey.category == "VRN1 - Průzkumné, geodetické a projektové práce"


def test_stavba_metadata_and_text() -> None:
    document = parse_unixml(unixml_bytes())

    assert document.metadata["stavba_code"] == "2025-017"
    assert document.metadata["stavba_name"] == "RD Lipová – novostavba rodinného domu"
    assert document.metadata["date"] == "2025-03-15"
    assert "SO 01.2 Elektroinstalace" in document.text
    assert "274313711 Základové pásy z betonu tř. C 20/25" in document.text


def test_source_line_is_the_polozka_line() -> None:
    data = unixml_bytes()
    first = parse_unixml(data).positions[0]

    assert first.source_line is not None
    line = data.decode("utf-8-sig").splitlines()[first.source_line - 1]
    assert "<polozka>" in line


def test_bad_number_is_a_warning_not_a_silent_drop() -> None:
    data = unixml_bytes().replace(b"<mnozstvi>68,16</mnozstvi>", b"<mnozstvi>68,16 m3?</mnozstvi>")

    document = parse_unixml(data)

    assert len(document.positions) == SAMPLE_BUDGET_POSITIONS
    trench = next(p for p in document.positions if p.code == "132151253")
    assert trench.quantity is None
    assert trench.total_price is None
    assert [w.message for w in document.warnings] == ["position 2 (132151253): quantity is not a number: '68,16 m3?'"]
    assert document.warnings[0].line == trench.source_line


def test_missing_zdroj_is_warned_about() -> None:
    data = re.sub(
        rb"<zdroj_material><kod_polozky>11163150</kod_polozky>.*?</zdroj_material>", b"", unixml_bytes(), flags=re.S
    )

    document = parse_unixml(data)

    lacquer = next(p for p in document.positions if p.code == "11163150")
    assert lacquer.description == ""
    assert lacquer.unit is None
    assert "no description or unit" in document.warnings[0].message


def test_unixml_without_positions_is_an_error() -> None:
    data = re.sub(rb"<polozka>.*?</polozka>", b"", unixml_bytes(), flags=re.S)

    with pytest.raises(DocumentParseError, match="no positions"):
        parse_document(data)
