"""XC4 (AspeEsticon XML): objects and stavDily, OTSKP items, vv rows, catalogue-only files."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.budgets.records import BudgetObject, DocumentParseError
from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import XC4_BUDGET, XC4_CATALOGUE, xc4_bytes


def test_positions_from_nested_objects() -> None:
    document = parse_document(xc4_bytes(), "soupis.xml")

    assert document.format == "xc4"
    assert [p.code for p in document.positions] == ["272325", "272365", "333325", "333365", "420324"]
    assert document.objects == [
        BudgetObject(code="SO 203", name="MOST PŘES BIOKORIDOR V KM 3,360"),
        BudgetObject(code="SO 203.1", name="Přechodové desky", parent_code="SO 203"),
    ]
    slab = document.positions[4]
    assert (slab.object_code, slab.metadata["object_path"]) == ("SO 203.1", "SO 203/SO 203.1")
    assert slab.category == "4 - Vodorovné konstrukce"
    assert slab.unit_price == Decimal("7450.00")
    assert slab.total_price == Decimal("305077.50")
    assert document.metadata["stavba_code"] == "24047_DOD4"


def test_item_fields_and_vv_rows() -> None:
    footing, rebar = parse_document(xc4_bytes()).positions[:2]

    assert footing.description == "ZÁKLADY ZE ŽELEZOBETONU DO C30/37"
    assert footing.full_description == "základy opěr, beton C30/37 XC2 XF1"
    assert (footing.unit, footing.quantity, footing.unit_price) == ("M3", Decimal("43.8000"), Decimal("9850.00"))
    assert footing.total_price == Decimal("431430.00")
    assert footing.catalog == "OTSKP 2025"
    assert footing.measurements == ["2*(4,5*8,2*0,6)", "Celkem 43,8"]
    assert footing.metadata["item_id"] == "a1b2"
    assert footing.category == "2 - Základy"
    assert rebar.measurements == ["43,8*0,15"]
    assert rebar.unit_price == Decimal("38500.00")
    assert rebar.total_price == Decimal("252945.00")


def test_bad_quantity_is_warned_with_its_line() -> None:
    document = parse_document(xc4_bytes())

    assert document.positions[3].quantity is None
    assert document.warnings[0].line is not None
    line = XC4_BUDGET.splitlines()[document.warnings[0].line - 1]
    assert "<polozka>" in line
    assert document.warnings[0].message == "position 4: quantity is not a number: 'devět'"


def test_catalogue_is_not_a_budget() -> None:
    with pytest.raises(DocumentParseError, match="price catalogue"):
        parse_document(xc4_bytes(XC4_CATALOGUE))


def test_namespaced_xc4_is_read() -> None:
    data = XC4_BUDGET.replace("<XC4>", '<XC4 xmlns="urn:example:xc4">')

    assert len(parse_document(xc4_bytes(data)).positions) == 5
