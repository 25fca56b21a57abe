"""Collecting what a parser reads into a ``ParsedDocument``.

Parsers fill ``PositionDraft``s row by row (an item, then its PP / VV / note rows); the builder
applies the shared rules once: rounding, totals, warnings for unreadable values, searchable text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.budgets.records import (
    BudgetObject,
    DocumentParseError,
    ParsedDocument,
    ParseWarning,
    PositionRecord,
    SkippedRow,
    SkippedSheet,
)

from .cells import Cell, iso_date
from .limits import MAX_POSITIONS, MAX_SEARCH_TEXT, too_large
from .numbers import InvalidNumber, line_total, parse_decimal, quantize_money, quantize_quantity

# Skipped rows are all counted; this many are also listed with their line and reason.
MAX_SKIPPED_ROWS_LISTED = 1000
_EXCERPT = 80


@dataclass(slots=True)
class PositionDraft:
    """A position while its detail rows are still being read; numbers are exact (unrounded)."""

    description: str
    code: str | None = None
    position_number: str | None = None
    full_description: list[str] = field(default_factory=list)
    category: str | None = None
    object_code: str | None = None
    object_name: str | None = None
    unit: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    total_price: Decimal | None = None
    catalog: str | None = None
    item_type: str | None = None
    measurements: list[str] = field(default_factory=list)
    source_line: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def add_note(self, note: str) -> None:
        self.metadata.setdefault("notes", []).append(note)

    def add_figure(self, code: str, quantity: str | None, text: str | None) -> None:
        """A figure (a named measurement such as F0001 or CF10) that this position's quantity uses."""
        figure = {key: value for key, value in (("code", code), ("quantity", quantity), ("text", text)) if value}
        self.metadata.setdefault("figures", []).append(figure)

    def finish(self) -> PositionRecord:
        """Round quantity to 4 dp and money to 0.01; compute a missing total from the exact values."""
        metadata = dict(self.metadata)
        quantity = _rounded(self.quantity, quantize_quantity, "quantity_exact", metadata)
        unit_price = _rounded(self.unit_price, quantize_money, "unit_price_exact", metadata)
        total: Decimal | None = (
            quantize_money(self.total_price)
            if self.total_price is not None
            else line_total(self.quantity, self.unit_price)
        )
        full = "\n".join(part for part in self.full_description if part) or None
        return PositionRecord(
            description=self.description,
            code=self.code,
            position_number=self.position_number,
            full_description=full,
            category=self.category,
            object_code=self.object_code,
            object_name=self.object_name,
            unit=self.unit,
            quantity=quantity,
            unit_price=unit_price,
            total_price=total,
            catalog=self.catalog,
            item_type=self.item_type,
            measurements=list(self.measurements),
            source_line=self.source_line,
            metadata=metadata,
        )


def _rounded(
    value: Decimal | None, rounding: Callable[[Decimal], Decimal], exact_key: str, metadata: dict[str, Any]
) -> Decimal | None:
    """The rounded value; the exact one is kept in metadata when rounding changed it."""
    if value is None:
        return None
    rounded = rounding(value)
    if rounded != value:
        metadata[exact_key] = str(value)
    return rounded


class DocumentBuilder:
    """Accumulates positions, objects, warnings and text for one document."""

    def __init__(self, format: str) -> None:
        self.format = format
        self.positions: list[PositionDraft] = []
        self.objects: list[BudgetObject] = []
        self.warnings: list[ParseWarning] = []
        self.metadata: dict[str, Any] = {}
        self.skipped: dict[str, int] = {}
        self.skipped_rows: list[SkippedRow] = []
        self.skipped_sheets: list[SkippedSheet] = []
        self.attached: dict[str, int] = {}
        self._object_keys: set[tuple[str | None, str | None]] = set()

    def skip(
        self, kind: str, reason: str, *, line: int | None = None, sheet: str | None = None, text: str = ""
    ) -> None:
        """Account for a row that is not a position: counted by ``kind``, listed (bounded) with its line."""
        self.skipped[kind] = self.skipped.get(kind, 0) + 1
        if len(self.skipped_rows) < MAX_SKIPPED_ROWS_LISTED:
            excerpt = " ".join(text.split())[:_EXCERPT] or None
            self.skipped_rows.append(SkippedRow(line=line, kind=kind, reason=reason, sheet=sheet, text=excerpt))

    def skip_sheet(self, sheet: str, kind: str, reason: str, rows: int) -> None:
        """A whole sheet that is not a budget; its rows are counted under ``sheet:<kind>``."""
        self.skipped_sheets.append(SkippedSheet(sheet=sheet, kind=kind, reason=reason, rows=rows))
        key = f"sheet_rows:{kind}"
        self.skipped[key] = self.skipped.get(key, 0) + rows

    def attach(self, kind: str) -> None:
        """Count a detail row kept with its position (measurement line, full description, note …)."""
        self.attached[kind] = self.attached.get(kind, 0) + 1

    def warn(self, message: str, *, line: int | None = None, sheet: str | None = None) -> None:
        self.warnings.append(ParseWarning(line=line, message=message, sheet=sheet))

    def number(
        self, value: Cell | Decimal, *, what: str, line: int | None = None, sheet: str | None = None
    ) -> Decimal | None:
        """The value as a ``Decimal``; a value that is not a number is warned about and read as ``None``."""
        try:
            return parse_decimal(value)
        except InvalidNumber:
            self.warn(f"{what} is not a number: {value!r}", line=line, sheet=sheet)
            return None

    def add_object(self, code: str | None, name: str | None, parent_code: str | None = None) -> None:
        """Record an object once (by code, or name when it has no code, and parent)."""
        if not code and not name:
            return
        key = (code or name, parent_code)
        if key in self._object_keys:
            return
        self._object_keys.add(key)
        self.objects.append(BudgetObject(code=code, name=name, parent_code=parent_code))

    def add(self, draft: PositionDraft) -> PositionDraft:
        if len(self.positions) >= MAX_POSITIONS:
            raise too_large("The document's number of positions", len(self.positions) + 1, MAX_POSITIONS)
        self.positions.append(draft)
        return draft

    def build(self, *, empty_error: str | None = None, text: str | None = None) -> ParsedDocument:
        """The finished document; with ``empty_error`` a document without positions is an error."""
        if empty_error and not self.positions:
            raise DocumentParseError(empty_error)
        positions = [draft.finish() for draft in self.positions]
        self.positions = []  # the drafts' numbers and lists are copies: let them go before the text is built
        date = self.metadata.get("date")
        iso = iso_date(date) if isinstance(date, str) else None
        if iso:
            self.metadata["date"] = iso
        return ParsedDocument(
            format=self.format,
            positions=positions,
            objects=self.objects,
            warnings=self.warnings,
            text=text if text is not None else self._searchable_text(positions),
            metadata=self.metadata,
            skipped=self.skipped,
            skipped_rows=self.skipped_rows,
            skipped_sheets=self.skipped_sheets,
            attached=self.attached,
        )

    def _searchable_text(self, positions: list[PositionRecord]) -> str:
        """Stavba, objects and each position's code, descriptions and notes, one per line; cut at
        ``MAX_SEARCH_TEXT`` characters (noted in the metadata), as a search index needs no more."""
        lines: list[str] = []
        size = 0
        for line in self._text_lines(positions):
            if not line:
                continue
            size += len(line) + 1
            if size > MAX_SEARCH_TEXT:
                self.metadata["text_truncated_at"] = MAX_SEARCH_TEXT
                break
            lines.append(line)
        return "\n".join(lines)

    def _text_lines(self, positions: list[PositionRecord]) -> Iterator[str]:
        yield " ".join(str(self.metadata[key]) for key in ("stavba_code", "stavba_name") if self.metadata.get(key))
        yield from (" ".join(part for part in (obj.code, obj.name) if part) for obj in self.objects)
        for position in positions:
            yield " ".join(part for part in (position.code, position.description) if part)
            if position.full_description and position.full_description != position.description:
                yield position.full_description
            yield from (str(note) for note in position.metadata.get("notes", ()))
