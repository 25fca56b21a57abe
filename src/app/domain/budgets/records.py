"""Plain budget data shared by parsers, enrichment, audit experts and the file-store migration.

These structs carry no database identity: parsers produce them from bytes, services turn them into
rows. Money and quantities are ``Decimal`` end to end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec


class PositionRecord(msgspec.Struct, kw_only=True):
    """One budget position (položka) as read from a file or built by a rule."""

    description: str
    code: str | None = None
    position_number: str | None = None
    full_description: str | None = None
    category: str | None = None  # section (díl) name or code, e.g. "1 - Zemní práce", "HSV"
    object_code: str | None = None  # SO 01, SO 201 ... (objects may nest: "SO 01/SO 01.1")
    object_name: str | None = None
    unit: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    total_price: Decimal | None = None
    catalog: str | None = None  # "CS ÚRS 2025 02", "OTSKP 2025", "RTS" ...
    item_type: str | None = None  # K (work) / M (material)
    measurements: list[str] = msgspec.field(default_factory=list)  # výkaz výměr lines
    source_line: int | None = None  # 1-based row / line / element index in the source file
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class ParseWarning(msgspec.Struct, kw_only=True):
    """A row the parser could not read; parsing never drops a row silently."""

    line: int | None
    message: str
    sheet: str | None = None


class SkippedRow(msgspec.Struct, kw_only=True):
    """A row of the file that did not become a position, and why (a section heading, a subtotal …)."""

    line: int | None
    kind: str  # section, summary, repeated_header, orphan_detail, unknown_type, unreadable, text …
    reason: str
    sheet: str | None = None
    text: str | None = None  # the row's first words, so a person can find it


class SkippedSheet(msgspec.Struct, kw_only=True):
    """A sheet of a workbook that is not a budget (recapitulation, list of figures, cover sheet)."""

    sheet: str
    kind: str  # recapitulation, figure_list, cover, no_budget_header
    reason: str
    rows: int = 0  # its non-blank rows, none of which became a position


class BudgetObject(msgspec.Struct, kw_only=True):
    code: str | None
    name: str | None
    parent_code: str | None = None


class ParsedDocument(msgspec.Struct, kw_only=True):
    """What a parser extracts from one document.

    ``positions`` is empty for text-only documents (reports, drawings); ``text`` is the searchable
    content in every case.
    """

    format: str  # unixml, kros_xlsx, rts_xlsx, esticon_xlsx, xc4, csv, pdf, txt
    positions: list[PositionRecord] = msgspec.field(default_factory=list)
    objects: list[BudgetObject] = msgspec.field(default_factory=list)
    warnings: list[ParseWarning] = msgspec.field(default_factory=list)
    text: str = ""
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)  # stavba code/name, date, ...
    # What was read but is not a position: counts by kind (complete), the rows themselves (bounded),
    # whole sheets left out, and detail rows kept with their position (measurement lines, notes …).
    skipped: dict[str, int] = msgspec.field(default_factory=dict)
    skipped_rows: list[SkippedRow] = msgspec.field(default_factory=list)
    skipped_sheets: list[SkippedSheet] = msgspec.field(default_factory=list)
    attached: dict[str, int] = msgspec.field(default_factory=dict)

    @property
    def is_budget(self) -> bool:
        return bool(self.positions)


_NUL = "\x00"
_ENCODED_NUL = b"\\u0000"
_encode = msgspec.json.Encoder().encode


def without_nul(parsed: ParsedDocument) -> ParsedDocument:
    """`parsed` with every NUL character removed from its text: PostgreSQL stores none in text or jsonb,
    and a file carries one easily (`_x0000_` in an xlsx cell, a NUL past a CSV's sniffed head, a PDF's
    text). The encoder's C loop finds out whether there is one; only then is the document walked."""
    if _ENCODED_NUL not in _encode(parsed):
        return parsed
    cleaned: ParsedDocument = _strip_nul(parsed)
    return cleaned


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(_NUL, "") if _NUL in value else value
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    if isinstance(value, dict):
        return {_strip_nul(key): _strip_nul(item) for key, item in value.items()}
    if isinstance(value, msgspec.Struct):
        changes = {name: _strip_nul(getattr(value, name)) for name in value.__struct_fields__}
        return msgspec.structs.replace(value, **changes)
    return value


class DocumentParseError(Exception):
    """The file is not a budget/document we can read, or it is broken. The message is for people."""
