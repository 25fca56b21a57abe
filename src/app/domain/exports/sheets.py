"""An audited budget version as a file: XLSX (a sheet per object plus a summary) or CSV for Czech Excel.

Pure: an `ExportBudget` in, a file out. Money stays `Decimal`: the XLSX holds numbers with a 2-dp
format (so Excel sums them), totals are the sums of the rounded line totals, exactly as the version's
`total_cost`. The CSV is what Czech Excel opens with a double click: UTF-8 with a BOM, `;` between
fields, a decimal comma, no thousands separator.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import msgspec
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

ZERO = Decimal("0.00")
MONEY_FORMAT = "#,##0.00"
QUANTITY_FORMAT = "#,##0.0###"
STATUS_FILLS = {
    "GREEN": PatternFill(fill_type="solid", start_color="FFC6EFCE", end_color="FFC6EFCE"),
    "AMBER": PatternFill(fill_type="solid", start_color="FFFFEB9C", end_color="FFFFEB9C"),
    "RED": PatternFill(fill_type="solid", start_color="FFFFC7CE", end_color="FFFFC7CE"),
}
STATUS_FONTS = {
    "GREEN": Font(bold=True, color="FF006100"),
    "AMBER": Font(bold=True, color="FF9C5700"),
    "RED": Font(bold=True, color="FF9C0006"),
}
HEADER = ("PČ", "Kód", "Popis", "MJ", "Množství", "J. cena [CZK]", "Cena celkem [CZK]", "Stav auditu", "Důvody")
CSV_HEADER = ("Objekt", *HEADER)
COLUMN_WIDTHS = (7, 13, 60, 7, 13, 15, 17, 12, 80)
SUMMARY_SHEET = "Souhrn"
# openpyxl keeps a temporary file open per write-only sheet until the workbook is saved; a budget of
# more objects than this gets one sheet naming each row's object (as the CSV does), not a sheet each.
MAX_OBJECT_SHEETS = 200
NO_OBJECT_SHEET = "Rozpočet"
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# A text cell starting with one of these is a formula to Excel or LibreOffice when the file is opened
# (OWASP "CSV injection"); a description or code an uploaded budget wrote must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel holds at most this many characters in a cell and calls a file with a longer one damaged.
EXCEL_CELL_CHARACTERS = 32_767
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


class ExportLine(msgspec.Struct, frozen=True, kw_only=True):
    """One position as it is exported: budget fields, the audit status and the reasons behind it."""

    position_number: str | None
    code: str | None
    description: str
    unit: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    total_price: Decimal | None
    status: str | None
    reasons: str


class ExportObject(msgspec.Struct, kw_only=True):
    """The positions of one budget object (SO 01 …), or of none."""

    code: str | None
    name: str | None
    lines: list[ExportLine] = msgspec.field(default_factory=list)

    @property
    def row_label(self) -> str:
        """The object as each of its rows names it in a listing of all objects ("" for no object)."""
        return " ".join(part for part in (self.code, self.name) if part)

    @property
    def label(self) -> str:
        return self.row_label or NO_OBJECT_SHEET

    @property
    def total(self) -> Decimal:
        return sum((line.total_price for line in self.lines if line.total_price is not None), ZERO)

    def status_counts(self) -> Counter[str]:
        return Counter(line.status or "none" for line in self.lines)


class ExportBudget(msgspec.Struct, kw_only=True):
    project_name: str
    version: int
    version_total: Decimal
    trigger_type: str
    version_created_at: datetime.datetime
    exported_at: datetime.datetime
    objects: list[ExportObject]

    @property
    def total(self) -> Decimal:
        return sum((obj.total for obj in self.objects), ZERO)

    @property
    def position_count(self) -> int:
        return sum(len(obj.lines) for obj in self.objects)

    def status_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for obj in self.objects:
            counts.update(obj.status_counts())
        return counts


def sheet_names(labels: Iterable[str]) -> list[str]:
    """Excel sheet names for the labels: no []:*?/\\, at most 31 characters, unique, never "Souhrn"."""
    used = {SUMMARY_SHEET.casefold()}
    names = []
    for label in labels:
        base = _SHEET_NAME_FORBIDDEN.sub(" ", label).strip().strip("'") or NO_OBJECT_SHEET
        name, number = base[:31], 1
        while name.casefold() in used:
            number += 1
            suffix = f" ({number})"
            name = base[: 31 - len(suffix)] + suffix
        used.add(name.casefold())
        names.append(name)
    return names


def _cell(sheet: Worksheet, value: object, *, number_format: str | None = None, bold: bool = False) -> WriteOnlyCell:
    """A cell of `value`; text is always a string cell (openpyxl types a str starting with "=" a formula),
    cut to what an Excel cell holds."""
    if isinstance(value, str) and len(value) > EXCEL_CELL_CHARACTERS:
        value = value[: EXCEL_CELL_CHARACTERS - 1] + "…"
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if number_format is not None:
        cell.number_format = number_format
    if bold:
        cell.font = _BOLD
    return cell


def _status_cell(sheet: Worksheet, status: str | None) -> WriteOnlyCell:
    cell = _cell(sheet, status or "")
    if status in STATUS_FILLS:
        cell.fill = STATUS_FILLS[status]
        cell.font = STATUS_FONTS[status]
    return cell


def _reasons_cell(sheet: Worksheet, reasons: str) -> WriteOnlyCell:
    cell = _cell(sheet, reasons)
    cell.alignment = _WRAP
    return cell


def write_xlsx(budget: ExportBudget, path: Path) -> list[str]:
    """Write the workbook (write-only mode: rows stream to disk); returns the sheet names in order."""
    workbook = Workbook(write_only=True)
    if len(budget.objects) > MAX_OBJECT_SHEETS:
        _write_summary(workbook.create_sheet(SUMMARY_SHEET), budget, [obj.label for obj in budget.objects])
        _write_objects_together(workbook.create_sheet(NO_OBJECT_SHEET), budget)
        workbook.save(path)
        return [SUMMARY_SHEET, NO_OBJECT_SHEET]
    names = sheet_names(obj.label for obj in budget.objects)
    _write_summary(workbook.create_sheet(SUMMARY_SHEET), budget, names)
    for obj, name in zip(budget.objects, names, strict=True):
        _write_object(workbook.create_sheet(name), obj)
    workbook.save(path)
    return [SUMMARY_SHEET, *names]


def _set_widths(sheet: Worksheet, widths: Iterable[int]) -> None:
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width


def _line_cells(sheet: Worksheet, line: ExportLine) -> list[object]:
    return [
        _cell(sheet, line.position_number),
        _cell(sheet, line.code),
        _cell(sheet, line.description),
        _cell(sheet, line.unit),
        _cell(sheet, line.quantity, number_format=QUANTITY_FORMAT),
        _cell(sheet, line.unit_price, number_format=MONEY_FORMAT),
        _cell(sheet, line.total_price, number_format=MONEY_FORMAT),
        _status_cell(sheet, line.status),
        _reasons_cell(sheet, line.reasons),
    ]


def _write_objects_together(sheet: Worksheet, budget: ExportBudget) -> None:
    """Every object's lines on one sheet, the object's label first on each row, then the total."""
    _set_widths(sheet, (20, *COLUMN_WIDTHS))
    sheet.freeze_panes = "A3"
    sheet.append([_cell(sheet, budget.project_name, bold=True)])
    sheet.append([_cell(sheet, title, bold=True) for title in CSV_HEADER])
    for obj in budget.objects:
        label = obj.row_label
        for line in obj.lines:
            sheet.append([_cell(sheet, label), *_line_cells(sheet, line)])
    total = _cell(sheet, budget.total, number_format=MONEY_FORMAT, bold=True)
    sheet.append([None, None, None, _cell(sheet, "Celkem", bold=True), None, None, None, total])


def _write_object(sheet: Worksheet, obj: ExportObject) -> None:
    _set_widths(sheet, COLUMN_WIDTHS)
    sheet.freeze_panes = "A3"
    sheet.append([_cell(sheet, obj.label, bold=True)])
    sheet.append([_cell(sheet, title, bold=True) for title in HEADER])
    for line in obj.lines:
        sheet.append(_line_cells(sheet, line))
    sheet.append(
        [
            None,
            None,
            _cell(sheet, f"Celkem {obj.label}", bold=True),
            None,
            None,
            None,
            _cell(sheet, obj.total, number_format=MONEY_FORMAT, bold=True),
        ]
    )


def _write_summary(sheet: Worksheet, budget: ExportBudget, names: list[str]) -> None:
    _set_widths(sheet, (40, 12, 20, 10, 10, 10, 12))
    counts = budget.status_counts()
    sheet.append([_cell(sheet, "Stavba", bold=True), _cell(sheet, budget.project_name)])
    sheet.append([_cell(sheet, "Verze rozpočtu", bold=True), budget.version, _cell(sheet, budget.trigger_type)])
    sheet.append([_cell(sheet, "Verze vytvořena", bold=True), budget.version_created_at.isoformat()])
    sheet.append([_cell(sheet, "Exportováno", bold=True), budget.exported_at.isoformat()])
    sheet.append([])
    sheet.append(
        [
            _cell(sheet, title, bold=True)
            for title in ("Objekt", "Položek", "Cena celkem [CZK]", "GREEN", "AMBER", "RED", "Bez auditu")
        ]
    )
    for obj, name in zip(budget.objects, names, strict=True):
        object_counts = obj.status_counts()
        sheet.append(
            [
                _cell(sheet, name),
                len(obj.lines),
                _cell(sheet, obj.total, number_format=MONEY_FORMAT),
                *(object_counts.get(status, 0) for status in ("GREEN", "AMBER", "RED", "none")),
            ]
        )
    sheet.append(
        [
            _cell(sheet, "Celkem", bold=True),
            _cell(sheet, budget.position_count, bold=True),
            _cell(sheet, budget.total, number_format=MONEY_FORMAT, bold=True),
            *(_cell(sheet, counts.get(status, 0), bold=True) for status in ("GREEN", "AMBER", "RED", "none")),
        ]
    )
    sheet.append([])
    sheet.append(
        [
            _cell(sheet, "Cena celkem dle verze [CZK]", bold=True),
            None,
            _cell(sheet, budget.version_total, number_format=MONEY_FORMAT, bold=True),
        ]
    )
    sheet.append([])
    sheet.append([_cell(sheet, "Stav auditu", bold=True)])
    for status in ("GREEN", "AMBER", "RED"):
        sheet.append([_status_cell(sheet, status), counts.get(status, 0)])


def czech_decimal(value: Decimal | None, *, places: int | None = None) -> str:
    """'1234,50' (money, fixed places) or '20,445' (quantities, trailing zeros dropped); '' for None."""
    if value is None:
        return ""
    if places is not None:
        text = format(value.quantize(Decimal(1).scaleb(-places)), "f")
    else:
        text = format(value.normalize(), "f") if value else "0"
    return text.replace(".", ",")


def csv_text(value: str | None) -> str:
    """A text field as Excel reads it as text: one starting like a formula gets a leading apostrophe
    (OWASP's advice; Excel shows the apostrophe, which says the text was not a formula)."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(budget: ExportBudget, path: Path) -> None:
    """UTF-8 with BOM, `;`, CRLF, decimal comma: a file Czech Excel opens as numbers. Text fields go
    through `csv_text`, amounts (our own numbers, which may be negative) do not."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        for obj in budget.objects:
            label = obj.row_label
            for line in obj.lines:
                writer.writerow(
                    (
                        csv_text(label),
                        csv_text(line.position_number),
                        csv_text(line.code),
                        csv_text(line.description),
                        csv_text(line.unit),
                        czech_decimal(line.quantity),
                        czech_decimal(line.unit_price, places=2),
                        czech_decimal(line.total_price, places=2),
                        csv_text(line.status),
                        csv_text(line.reasons),
                    )
                )
