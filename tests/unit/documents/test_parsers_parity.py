"""The same budget exported as UNIXML and as KROS Excel gives the same positions and total."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from app.domain.budgets.records import PositionRecord
from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import (
    SAMPLE_BUDGET,
    SAMPLE_BUDGET_POSITIONS,
    SAMPLE_BUDGET_TOTAL,
    kros_xlsx_bytes,
    unixml_bytes,
)

SHARED_METADATA = ("object_path", "section_path", "notes", "price_set_note")


def comparable(position: PositionRecord) -> dict[str, Any]:
    """Everything a position says about the budget; where it sat in the file is left out."""
    fields = msgspec.structs.asdict(position)
    fields.pop("source_line")
    metadata = fields.pop("metadata")
    fields.update({key: metadata.get(key) for key in SHARED_METADATA})
    return fields


@pytest.mark.parametrize("legacy", [False, True], ids=["kros_xlsx", "export_komplet"])
def test_unixml_and_kros_excel_agree(legacy: bool) -> None:
    from_xml = parse_document(unixml_bytes(SAMPLE_BUDGET), "rozpocet.xml")
    from_excel = parse_document(kros_xlsx_bytes(SAMPLE_BUDGET, legacy=legacy), "rozpocet.xlsx")

    assert (from_xml.format, from_excel.format) == ("unixml", "kros_xlsx")
    assert len(from_xml.positions) == len(from_excel.positions) == SAMPLE_BUDGET_POSITIONS
    expected = [comparable(p) for p in from_xml.positions]
    if legacy:  # the older export has no price-set notes
        for fields in expected:
            fields["price_set_note"] = None
    assert [comparable(p) for p in from_excel.positions] == expected
    assert from_excel.objects == from_xml.objects
    assert from_excel.metadata["stavba_name"] == from_xml.metadata["stavba_name"]
    assert from_excel.metadata["date"] == from_xml.metadata["date"] == "2025-03-15"

    xml_total = sum(p.total_price or Decimal(0) for p in from_xml.positions)
    excel_total = sum(p.total_price or Decimal(0) for p in from_excel.positions)
    assert xml_total == excel_total == SAMPLE_BUDGET_TOTAL == SAMPLE_BUDGET.total
