"""Excel workbooks (xlsx, xls) read with python-calamine, each sheet loaded once on demand.

Rows keep their absolute positions: ``rows(name)[i][j]`` is the cell at Excel row ``i + 1``,
column ``j + 1``, so warnings and ``source_line`` name the row a person sees in Excel.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from python_calamine import CalamineWorkbook, PasswordError

from app.domain.budgets.records import DocumentParseError

from .cells import Cell

Row = Sequence[Cell]
Rows = Sequence[Row]


class Workbook:
    """An opened workbook; sheets are read lazily and cached."""

    def __init__(self, data: bytes) -> None:
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
                loaded: Rows = self._book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as exc:
                raise DocumentParseError(f"Excel sheet {name!r} cannot be read: {exc}") from exc
            self._rows[name] = cached = loaded
        return cached

    def first_cell(self, name: str) -> Cell:
        """The top-left cell A1 of a sheet (format markers such as ``#RTSROZP#`` live there)."""
        rows = self.rows(name)
        return rows[0][0] if rows and rows[0] else None
