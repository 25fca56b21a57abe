"""AspeEsticon Excel: S/O/O1 rows, split price header, SD sections, P items with PP/VV/TS rows."""

from __future__ import annotations

from decimal import Decimal

from app.domain.budgets.records import BudgetObject
from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import esticon_xlsx_bytes


def test_p_rows_with_split_price_columns() -> None:
    document = parse_document(esticon_xlsx_bytes(), "soupis.xlsx")

    assert document.format == "esticon_xlsx"
    assert [p.code for p in document.positions] == ["272325", "333325", "333365", "56333", "574A34"]
    footing = document.positions[0]
    assert footing.description == "ZÁKLADY ZE ŽELEZOBETONU DO C30/37"
    assert footing.full_description == "základy opěr, beton C30/37 XC2 XF1"
    assert footing.measurements == ["2*(4,5*8,2*0,6)", "Celkem: 43,8"]
    assert footing.metadata["technical_spec"] == "TKP 18, beton dle ČSN EN 206+A2"
    assert footing.metadata["variant"] == "a"
    assert (footing.unit, footing.quantity, footing.unit_price, footing.total_price) == (
        "M3",
        Decimal("43.8000"),
        Decimal("9850.00"),
        Decimal("431430.00"),
    )
    assert footing.catalog == "OTSKP 2025"
    assert footing.category == "2 - Základy"


def test_missing_total_is_computed() -> None:
    rebar = parse_document(esticon_xlsx_bytes()).positions[2]

    assert rebar.total_price == Decimal("353738.00")  # 9.188 t × 38 500


def test_objects_and_budgets() -> None:
    document = parse_document(esticon_xlsx_bytes())

    assert document.metadata == {"stavba_code": "24047", "stavba_name": "I/20 Hněvkov – Sedlice"}
    assert document.objects == [
        BudgetObject(code="SO 203", name="Most přes biokoridor v km 3,360"),
        BudgetObject(code="SO 203.1", name="Spodní stavba", parent_code="SO 203"),
        BudgetObject(code="SO 180", name="Objízdná trasa"),
    ]
    assert document.positions[0].metadata["object_path"] == "SO 203/SO 203.1"
    detour = document.positions[4]
    assert (detour.object_code, detour.category, detour.position_number) == ("SO 180", "5 - Komunikace", "2")


def test_unreadable_quantity_is_warned() -> None:
    document = parse_document(esticon_xlsx_bytes())

    gravel = document.positions[3]
    assert (gravel.quantity, gravel.total_price) == (None, None)
    assert [(w.line, w.sheet, w.message) for w in document.warnings] == [
        (20, "Soupis prací", "position 1: quantity is not a number: 'čtyři sta'")
    ]
