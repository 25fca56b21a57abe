"""Exported text never becomes a live formula (OWASP CSV injection): a description, code or project
name that a user or an uploaded budget wrote is opened by someone else in Excel."""

from __future__ import annotations

import csv
import datetime
import resource
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from app.domain.exports.sheets import (
    EXCEL_CELL_CHARACTERS,
    ExportBudget,
    ExportLine,
    ExportObject,
    write_csv,
    write_xlsx,
)

FORMULAS = ('=HYPERLINK("http://x";"klik")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def hostile_budget(text: str) -> ExportBudget:
    line = ExportLine(
        position_number=text,
        code=text,
        description=text,
        unit=text,
        quantity=Decimal("-1.5"),
        unit_price=Decimal("-10.00"),
        total_price=Decimal("15.00"),
        status=None,
        reasons=text,
    )
    return ExportBudget(
        project_name=text,
        version=1,
        version_total=Decimal("15.00"),
        trigger_type="upload",
        version_created_at=NOW,
        exported_at=NOW,
        objects=[ExportObject(code=text, name=None, lines=[line])],
    )


@pytest.mark.parametrize("text", FORMULAS)
def test_xlsx_keeps_formula_like_text_as_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "export.xlsx"
    sheets = write_xlsx(hostile_budget(text), path)

    workbook = openpyxl.load_workbook(path)
    cells = [cell for name in sheets for row in workbook[name].iter_rows() for cell in row if cell.value is not None]
    formulas = [cell.coordinate for cell in cells if cell.data_type == "f"]
    assert formulas == []
    summary, budget = workbook[sheets[0]], workbook[sheets[1]]
    assert summary["B1"].value == text  # the text itself is kept, only as text
    assert [cell.value for cell in budget[3]][:4] == [text] * 4
    assert budget["E3"].value == -1.5  # numbers stay numbers


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_text_fields_cannot_start_a_formula(tmp_path: Path, text: str) -> None:
    path = tmp_path / "export.csv"
    write_csv(hostile_budget(text), path)

    with path.open(encoding="utf-8-sig", newline="") as handle:
        header, row = list(csv.reader(handle, delimiter=";"))
    numbers = {header.index(title) for title in ("Množství", "J. cena [CZK]", "Cena celkem [CZK]")}
    texts = [value for index, value in enumerate(row) if index not in numbers and value]
    assert texts and all(value == "'" + text for value in texts)
    assert [row[index] for index in sorted(numbers)] == ["-1,5", "-10,00", "15,00"]  # amounts stay numbers


def test_xlsx_text_fits_an_excel_cell(tmp_path: Path) -> None:
    """Excel holds at most 32,767 characters in a cell and calls a file with a longer one damaged; a
    parsed CSV's description has no such bound."""
    path = tmp_path / "export.xlsx"
    sheets = write_xlsx(hostile_budget("Beton " * 10_000), path)

    with zipfile.ZipFile(path) as archive:  # openpyxl cuts what it reads: look at what was written
        written = archive.read("xl/worksheets/sheet2.xml").decode()
    assert "Beton " * 5_500 not in written
    budget = openpyxl.load_workbook(path)[sheets[1]]
    description = budget["C3"].value
    assert isinstance(description, str) and len(description) == EXCEL_CELL_CHARACTERS
    assert description.startswith("Beton Beton") and description.endswith("…")


def test_a_budget_of_thousands_of_objects_is_one_sheet_and_needs_no_file_per_object(tmp_path: Path) -> None:
    """openpyxl keeps a temporary file open per write-only sheet until the workbook is saved: a budget of
    2,000 objects (an uploaded UNIXML can declare them) failed the export with "Too many open files"
    under the usual limit of 1,024. Past MAX_OBJECT_SHEETS the objects share one sheet, named per row."""
    line = hostile_budget("x").objects[0].lines[0]
    budget = hostile_budget("Stavba")
    budget.objects = [ExportObject(code=f"SO {n}", name=None, lines=[line]) for n in range(2_000)]
    path = tmp_path / "export.xlsx"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1_024, hard), hard))
    try:
        sheets = write_xlsx(budget, path)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    assert sheets == ["Souhrn", "Rozpočet"]
    rows = list(openpyxl.load_workbook(path, read_only=True)["Rozpočet"].values)
    objects = [row[0] for row in rows[2:-1]]
    assert objects == [f"SO {n}" for n in range(2_000)] and rows[1][0] == "Objekt"
    assert rows[-1][7] == 2_000 * 15  # the total, in the total column
