"""PDF and TXT: text for search; a table of ÚRS codes becomes positions, best effort, with warnings."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from app.domain.budgets.records import DocumentParseError
from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import pdf_bytes

REPORT = Path(__file__).parents[2] / "fixtures" / "budgets" / "technicka_zprava_s_vykazem.txt"


def test_technical_report_text_with_a_budget_extract() -> None:
    document = parse_document(REPORT.read_bytes(), "zprava.txt")

    assert document.format == "txt"
    assert "Opěrná zeď je navržena z betonu C30/37 XF4 XD1" in document.text
    assert [(p.position_number, p.code, p.item_type, p.unit) for p in document.positions] == [
        ("1", "327323128", "K", "m3"),
        ("2", "327351211", "K", "m2"),
        ("3", "13021015", "M", "t"),
        ("5", "274313711", "K", "m3"),
    ]
    wall = document.positions[0]
    assert wall.description == "Opěrné zdi a valy ze ŽB tř. C 30/37"
    assert (wall.quantity, wall.unit_price, wall.total_price) == (
        Decimal("48.5000"),
        Decimal("4512.40"),
        Decimal("218851.40"),
    )
    assert wall.catalog == "CS ÚRS 2025 02"
    assert document.positions[1].quantity == Decimal("1212.5000")
    assert document.positions[1].total_price == Decimal("1188492.50")
    assert [(w.line, w.message[:40]) for w in document.warnings] == [
        (None, "4 positions were recognised in free text"),
        (12, "line with a 9-digit code could not be re"),
    ]


def test_cp1250_text() -> None:
    data = REPORT.read_text(encoding="utf-8").encode("cp1250")

    document = parse_document(data)

    assert document.metadata["encoding"] == "cp1250"
    assert document.text.startswith("TECHNICKÁ ZPRÁVA – SO 01 Opěrná zeď")


def test_plain_text_has_no_positions_and_no_warnings() -> None:
    document = parse_document("Statický výpočet: beton C25/30 XC2, ocel B500B.\n".encode())

    assert (document.format, document.positions, document.warnings) == ("txt", [], [])
    assert document.text == "Statický výpočet: beton C25/30 XC2, ocel B500B."


def test_pdf_text_and_positions() -> None:
    data = pdf_bytes(
        [
            "Soupis praci - SO 01 Operna zed",
            "1 K 327323128 Operne zdi ze ZB tr. C 30/37 m3 48,500 4 512,40 218 851,40 CS URS 2025 02",
            "2 K 327351211 Bedneni opernych zdi zrizeni m2 120,000 980,20 117 624,00",
        ]
    )

    document = parse_document(data, "soupis.pdf")

    assert document.format == "pdf"
    assert document.metadata["pages"] == 1
    assert "Soupis praci - SO 01 Operna zed" in document.text
    assert [(p.code, p.quantity, p.total_price) for p in document.positions] == [
        ("327323128", Decimal("48.5000"), Decimal("218851.40")),
        ("327351211", Decimal("120.0000"), Decimal("117624.00")),
    ]
    assert document.positions[0].metadata["page"] == 1


def test_pdf_without_text_is_a_warning() -> None:
    document = parse_document(pdf_bytes([]))

    assert (document.text, document.positions) == ("", [])
    assert "no extractable text" in document.warnings[0].message


def test_truncated_pdf_is_an_error() -> None:
    data = pdf_bytes(["Technicka zprava"])

    with pytest.raises(DocumentParseError, match="PDF cannot be read"):
        parse_document(data[: len(data) // 2])
