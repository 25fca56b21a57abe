"""Finding a table's header row by its labels, not by its position.

Each format lists the labels it knows for a field ("Množství", "Výměra", "quantity" …); a row is
the header when enough of the required fields are found in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .cells import Cell, fold


@dataclass(frozen=True, slots=True)
class Column:
    """A field and the folded labels that name it (exact match, or prefix match)."""

    field: str
    exact: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def matches(self, label: str) -> bool:
        return label in self.exact or any(label.startswith(prefix) for prefix in self.prefixes)


@dataclass(frozen=True, slots=True)
class Header:
    """A located header row: its 0-based row index and field → 0-based column index."""

    row: int
    columns: dict[str, int]

    def get(self, row: Sequence[Cell], field: str) -> Cell:
        index = self.columns.get(field)
        if index is None or index >= len(row):
            return None
        return row[index]


def match_columns(row: Sequence[Cell], columns: Iterable[Column]) -> dict[str, int]:
    """Map each field to the first cell of ``row`` whose label matches it (a cell serves one field)."""
    labels = [fold(value) for value in row]
    found: dict[str, int] = {}
    used: set[int] = set()
    for column in columns:
        for index, label in enumerate(labels):
            if label and index not in used and column.matches(label):
                found[column.field] = index
                used.add(index)
                break
    return found


def find_header(
    rows: Sequence[Sequence[Cell]],
    columns: Sequence[Column],
    required: Iterable[str],
    *,
    limit: int | None = None,
) -> Header | None:
    """The first row (within ``limit`` rows) that names every ``required`` field."""
    needed = [column for column in columns if column.field in set(required)]
    for index, row in enumerate(rows[:limit] if limit else rows):
        labels = {fold(value) for value in row if isinstance(value, str) and value}
        if len(labels) < len(needed) or not all(_named(column, labels) for column in needed):
            continue
        found = match_columns(row, columns)
        if all(column.field in found for column in needed):
            return Header(row=index, columns=found)
    return None


def _named(column: Column, labels: set[str]) -> bool:
    if not labels.isdisjoint(column.exact):
        return True
    return any(column.matches(label) for label in labels) if column.prefixes else False
