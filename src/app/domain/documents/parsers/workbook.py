"""Excel workbooks (xlsx, xls) read with python-calamine, each sheet loaded once on demand.

Rows keep their absolute positions: ``rows(name)[i][j]`` is the cell at Excel row ``i + 1``,
column ``j + 1``, so warnings and ``source_line`` name the row a person sees in Excel.
"""

from __future__ import annotations

import io

from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from app.domain.budgets.records import DocumentParseError

from .cells import Cell

Row = list[Cell]


class Workbook:
    """An opened workbook; sheets are read lazily and cached."""

    def __init__(self, data: bytes) -> None:
        try:
            self._book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except PasswordError as exc:
            raise DocumentParseError("Excel file is password-protected; save it without a password") from exc
        except (CalamineError, ValueError, OSError) as exc:
            raise DocumentParseError(f"Excel file cannot be read (damaged or not a workbook): {exc}") from exc
        except Exception as exc:  # calamine raises plain exceptions for some corrupt archives
            raise DocumentParseError(f"Excel file cannot be read (damaged or not a workbook): {exc}") from exc
        self.sheet_names: list[str] = list(self._book.sheet_names)
        self._rows: dict[str, list[Row]] = {}

    def rows(self, name: str) -> list[Row]:
        cached = self._rows.get(name)
        if cached is None:
            try:
                cached = self._book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as exc:
                raise DocumentParseError(f"Excel sheet {name!r} cannot be read: {exc}") from exc
            self._rows[name] = cached
        return cached

    def first_cell(self, name: str) -> Cell:
        """The top-left cell A1 of a sheet (format markers such as ``#RTSROZP#`` live there)."""
        rows = self.rows(name)
        return rows[0][0] if rows and rows[0] else None
