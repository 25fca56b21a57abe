"""Spreadsheets and CSV files that are not budgets (element schedules, výkazy) as searchable text lines.

Used for Workflow B documents: a schedule such as `Prvek | Beton | Objem [m3]` is not a budget, but
its rows hold the quantities a generated budget needs. Each data row becomes one line; a number in a
column whose header names a unit is written with that header and unit ("Objem betonu 45,6 m3"), so
the Workflow B extractor reads it like a sentence of a technical report.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from app.domain.documents.parsers.csv_budget import stream_rows
from app.domain.documents.parsers.decoding import decode_text
from app.domain.documents.parsers.limits import MAX_SEARCH_TEXT
from app.domain.documents.parsers.workbook import Workbook

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADER_UNIT = re.compile(r"(?:\[|\(|\s|^)(m3|m³|m2|m²|kg|t|ks|m)(?:\]|\)|\s*$)", re.IGNORECASE)
_NUMBER = re.compile(r"^-?\d{1,3}(?:[ \u00a0]\d{3})*(?:[.,]\d+)?$|^-?\d+(?:[.,]\d+)?$")
TABLE_FORMAT = "table"  # ParsedDocument.format of a schedule read as text


def looks_like_table_file(data: bytes) -> bool:
    """A workbook container, or text with a separator in most lines."""
    if data.startswith((_ZIP, _OLE2)):
        return True
    decoded = decode_text(data)
    if decoded is None:
        return False
    lines = [line for line in decoded[0].splitlines()[:50] if line.strip()]
    return bool(lines) and sum(1 for line in lines if ";" in line or "\t" in line) >= max(1, len(lines) // 2)


def table_text(data: bytes) -> str | None:
    """The rows of every sheet (or of the CSV) as text lines; None when the bytes are no table."""
    if data.startswith((_ZIP, _OLE2)):
        workbook = Workbook(data)  # bounded like any parse; raises DocumentParseError for a damaged one
        parts = []
        try:
            for name in workbook.sheet_names:
                lines = _rows_as_lines(workbook.rows(name))
                if lines:
                    parts.append("\n".join([f"# {name}", *lines]))
        finally:
            workbook.close()
        return "\n\n".join(parts)[:MAX_SEARCH_TEXT] or None
    decoded = decode_text(data)
    if decoded is None:
        return None
    text = decoded[0]
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=";\t,")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ";"
    rows = (row for _line, row in stream_rows(text, delimiter))  # lazily, at most MAX_TABLE_ROWS
    return "\n".join(_rows_as_lines(rows))[:MAX_SEARCH_TEXT] or None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f").replace(".", ",") if value == value else ""
    if isinstance(value, int | Decimal):
        return str(value).replace(".", ",")
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value).strip()


def _is_header(cells: Sequence[str]) -> bool:
    filled = [cell for cell in cells if cell]
    return len(filled) >= 2 and not any(_NUMBER.match(cell) for cell in filled)


def _rows_as_lines(rows: Iterable[Sequence[object]]) -> list[str]:
    """One line per non-empty row; the first row of labels only (no numbers) is the header."""
    lines: list[str] = []
    header: list[str] | None = None
    for raw in rows:
        cells = [_cell_text(value) for value in raw]
        if not any(cells):
            continue
        if header is None and _is_header(cells):
            header = cells
            lines.append(" | ".join(cell for cell in cells if cell))
            continue
        lines.append(" | ".join(_annotated(cells, header)))
    return lines


def _annotated(cells: Sequence[str], header: Sequence[str] | None) -> list[str]:
    """Cells of a data row; a number under a header naming a unit gets the header's label and unit."""
    out = []
    for index, cell in enumerate(cells):
        if not cell:
            continue
        label = header[index] if header is not None and index < len(header) else ""
        unit = _HEADER_UNIT.search(label) if label else None
        if unit and _NUMBER.match(cell):
            name = _HEADER_UNIT.sub(" ", label).strip(" []()") or label
            out.append(f"{name} {cell} {unit.group(1)}")
        else:
            out.append(cell)
    return out
