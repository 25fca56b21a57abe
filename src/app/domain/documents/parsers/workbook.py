"""Excel workbooks (xlsx, xls, ods) read with python-calamine, each sheet loaded once on demand.

Rows keep their absolute positions: ``rows(name)[i][j]`` is the cell at Excel row ``i + 1``,
column ``j + 1``, so warnings and ``source_line`` name the row a person sees in Excel.

Before calamine sees the bytes, ``workbook_bounds`` checks what they would unpack to and how many
cells their sheets span (calamine allocates a sheet's whole used range), so a hostile file fails
with a reason instead of exhausting memory. A loaded sheet is cached until ``close``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from python_calamine import CalamineSheet, CalamineWorkbook, PasswordError

from app.domain.budgets.records import DocumentParseError

from .cells import Cell
from .workbook_bounds import check_archive, check_biff

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

Row = Sequence[Cell]
Rows = Sequence[Row]


class Workbook:
    """An opened workbook; sheets are read lazily and cached."""

    def __init__(self, data: bytes) -> None:
        if data.startswith(_ZIP):
            check_archive(data)
        elif data.startswith(_OLE2):
            check_biff(data)
        try:
            self._book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except PasswordError as exc:
            raise DocumentParseError("Excel file is password-protected; save it without a password") from exc
        except Exception as exc:  # calamine raises its own errors and plain ones for corrupt archives
            raise DocumentParseError(f"Excel file cannot be read (damaged or not a workbook): {exc}") from exc
        self.sheet_names: list[str] = list(self._book.sheet_names)
        self._rows: dict[str, Rows] = {}

    def rows(self, name: str) -> Rows:
        cached = self._rows.get(name)
        if cached is None:
            try:
                loaded: Rows = _python_rows(self._book.get_sheet_by_name(name))
            except Exception as exc:
                raise DocumentParseError(f"Excel sheet {name!r} cannot be read: {exc}") from exc
            self._rows[name] = cached = loaded
        return cached

    def close(self) -> None:
        """Drop the loaded sheets and the reader (a parse keeps only what it built from them)."""
        self._rows.clear()

    def first_cell(self, name: str) -> Cell:
        """The top-left cell A1 of a sheet (format markers such as ``#RTSROZP#`` live there)."""
        rows = self.rows(name)
        return rows[0][0] if rows and rows[0] else None


def _python_rows(sheet: CalamineSheet) -> list[list[Cell]]:
    """The sheet's rows from A1 (``rows[i][j]`` is Excel row i + 1, column j + 1), one at a time.

    Equal texts share one ``str``: budgets repeat units, row types and descriptions thousands of
    times, and a reader hands out a fresh copy for every cell, which would double a sheet's memory.
    """
    left = sheet.start[1] if sheet.start else 0
    padding: list[Cell] = [""] * left
    texts: dict[str, str] = {}
    rows: list[list[Cell]] = []
    for row in sheet.iter_rows():
        rows.append([*padding, *(texts.setdefault(value, value) if type(value) is str else value for value in row)])
    return rows
