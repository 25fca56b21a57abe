"""RTS / BUILDpower Excel ("Položkový rozpočet"): a ``#RTSROZP#`` cover sheet and item sheets.

Each item sheet starts with ``S:`` / ``O:`` / ``R:`` rows (stavba, objekt, rozpočet), then the
header ``P.č. | Číslo položky | Název položky | MJ | Množství | Cena / MJ | Celkem | …``, ``Díl:``
rows for sections, numbered item rows, and their POP (description) and VV (quantity) rows. When
the hidden ``#TypZaznamu#`` column is present it says what each row is; otherwise the row's shape
decides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from .assembly import DocumentBuilder, PositionDraft
from .cells import cell_text, fold, is_blank_row, row_excerpt
from .columns import Column, Header, find_header
from .kros_excel import skip_sheet
from .numbers import InvalidNumber, parse_decimal
from .workbook import Row, Workbook

FORMAT = "rts_xlsx"
MARKER = "#RTSROZP#"
RECORD_TYPE_MARKER = "#TypZaznamu#"
HEADER_SEARCH_ROWS = 60

COLUMNS = (
    Column("number", exact=("pc", "poradovecislo")),
    Column("code", exact=("cislopolozky", "kodpolozky")),
    Column("description", exact=("nazevpolozky", "nazev", "popis")),
    Column("unit", exact=("mj",)),
    Column("quantity", exact=("mnozstvi",)),
    Column("unit_price", exact=("cenamj", "jednotkovacena", "jcena")),
    Column("total", exact=("celkem", "cenacelkem")),
    Column("vat", exact=("dph",)),
    Column("catalog", prefixes=("censoustava", "cenovasoustava")),
    Column("price_list", exact=("cenik",)),
    Column("kind", exact=("typpolozky",)),
)
REQUIRED = ("number", "code", "description", "unit", "quantity")
_NOTE_LABEL = "poznamkakpolozce"
_EXPRESSION = re.compile(r"[\d\s,.+\-*/()=]+")
_END_RECORDS = frozenset({"DPH", "SUM", "END", "JKSO", "JKSOCHAR", "JKSOAKCE", "POPUZIV"})


def sheet_header(rows: Sequence[Row]) -> Header | None:
    """The item header of an RTS sheet (P.č. | Číslo položky | Název položky | MJ | Množství …)."""
    return find_header(rows, COLUMNS, REQUIRED, limit=HEADER_SEARCH_ROWS)


def has_marker(workbook: Workbook) -> bool:
    """A sheet starts with ``#RTSROZP#``, as RTS / BUILDpower exports do."""
    return any(cell_text(workbook.first_cell(name)) == MARKER for name in workbook.sheet_names)


def looks_like_rts(workbook: Workbook) -> bool:
    """True for a workbook with the ``#RTSROZP#`` marker or an item sheet with S:/O: rows."""
    if has_marker(workbook):
        return True
    for name in workbook.sheet_names:
        rows = workbook.rows(name)
        header = sheet_header(rows)
        if header is not None and _header_rows(rows[: header.row]):
            return True
    return False


def _header_rows(rows: Sequence[Row]) -> dict[str, tuple[str, str]]:
    """The S: / O: / R: rows above the header: label → (code, name)."""
    found: dict[str, tuple[str, str]] = {}
    for row in rows:
        if len(row) < 3:
            continue
        label = cell_text(row[0]).upper()
        if label in ("S:", "O:", "R:") and label not in found:
            found[label] = (cell_text(row[1]), cell_text(row[2]))
    return found


def parse_rts_excel(workbook: Workbook) -> ParsedDocument:
    """Parse every item sheet; a workbook without one is an error."""
    builder = DocumentBuilder(FORMAT)
    sheets = 0
    for name in workbook.sheet_names:
        rows = workbook.rows(name)
        header = sheet_header(rows)
        if header is None:
            skip_sheet(builder, name, rows, "cover" if cell_text(workbook.first_cell(name)) == MARKER else None)
            continue
        sheets += 1
        _SheetReader(builder, name, rows, header).read()
    if not sheets:
        raise DocumentParseError(
            "RTS Excel file has no item sheet (header P.č. / Číslo položky / Název položky / MJ / Množství)"
        )
    return builder.build(empty_error="RTS Excel file has item sheets but no positions in them")


class _SheetReader:
    """Reads one item sheet: the S:/O:/R: context, then Díl:, item, POP and VV rows."""

    def __init__(self, builder: DocumentBuilder, sheet: str, rows: Sequence[Row], header: Header) -> None:
        self.builder = builder
        self.sheet = sheet
        self.rows = rows
        self.header = header
        labels = _header_rows(rows[: header.row])
        stavba_code, stavba_name = labels.get("S:", ("", ""))
        for key, value in (("stavba_code", stavba_code), ("stavba_name", stavba_name)):
            if value:
                builder.metadata.setdefault(key, value)
        self.object_code, self.object_name = labels.get("O:", ("", ""))
        self.budget_code, self.budget_name = labels.get("R:", ("", ""))
        builder.add_object(self.object_code or None, self.object_name or None)
        if self.budget_code or self.budget_name:
            builder.add_object(self.budget_code or None, self.budget_name or None, self.object_code or None)
        self.object_path = "/".join(part for part in (self.object_code, self.budget_code) if part)
        self.record_col = _record_type_column(rows[: header.row + 1])
        self.category: str | None = None
        self.current: PositionDraft | None = None

    def text(self, row: Row, field: str) -> str:
        return cell_text(self.header.get(row, field))

    def read(self) -> None:
        for index in range(self.header.row + 1, len(self.rows)):
            row = self.rows[index]
            if is_blank_row(row):
                continue
            line = index + 1
            record = self.record_type(row)
            first = cell_text(row[0]) if row else ""
            if record == "DIL" or first.casefold() == "díl:":
                code, name = cell_text(row[1]) if len(row) > 1 else "", self.text(row, "description")
                self.category = f"{code} - {name}" if code and name else code or name or None
                self.current = None
                self.skip("section", "a section (díl) heading; its name is the category of the items below", row, line)
            elif record.startswith("POL") or (not record and self.is_item(row)):
                self.item(row, line, record)
            elif record in ("POP", "VV") or (not record and not first):
                self.detail(row, record, line)
            elif record in _END_RECORDS or first.casefold() == "celkem":
                self.current = None
                self.skip("summary", "a sum or closing row of the budget, not a position", row, line)
            else:
                self.skip("text", f"a row that is neither an item nor a detail of one ({record or first!r})", row, line)

    def skip(self, kind: str, reason: str, row: Row, line: int) -> None:
        self.builder.skip(kind, reason, line=line, sheet=self.sheet, text=row_excerpt(row))

    def record_type(self, row: Row) -> str:
        if self.record_col is None or self.record_col >= len(row):
            return ""
        return cell_text(row[self.record_col]).upper()

    def is_item(self, row: Row) -> bool:
        if not self.text(row, "code"):
            return False
        try:
            return parse_decimal(self.header.get(row, "number")) is not None
        except InvalidNumber:
            return False

    def item(self, row: Row, line: int, record: str) -> None:
        code, description = self.text(row, "code"), self.text(row, "description")
        if not code and not description:
            self.builder.warn("item row has neither a code nor a description", line=line, sheet=self.sheet)
            self.current = None
            return
        number = self.text(row, "number")
        where = f"position {number or code}"
        kind = self.text(row, "kind")
        metadata: dict[str, object] = {"sheet": self.sheet, "object_path": self.object_path}
        for key, value in (
            ("budget_code", self.budget_code),
            ("budget_name", self.budget_name),
            ("record_type", record),
            ("rts_item_kind", kind),
            ("price_list", self.text(row, "price_list")),
            ("vat_rate", self.text(row, "vat")),
        ):
            if value:
                metadata[key] = value
        self.current = self.builder.add(
            PositionDraft(
                description=description,
                code=code or None,
                position_number=number or None,
                category=self.category,
                object_code=self.object_code or None,
                object_name=self.object_name or None,
                unit=self.text(row, "unit") or None,
                quantity=self.number(row, "quantity", f"{where}: quantity", line),
                unit_price=self.number(row, "unit_price", f"{where}: unit price", line),
                total_price=self.number(row, "total", f"{where}: total price", line),
                catalog=self.text(row, "catalog") or None,
                item_type="M" if fold(kind) == "specifikace" else "K",
                source_line=line,
                metadata=metadata,
            )
        )

    def number(self, row: Row, field: str, what: str, line: int) -> Decimal | None:
        return self.builder.number(self.header.get(row, field), what=what, line=line, sheet=self.sheet)

    def detail(self, row: Row, record: str, line: int) -> None:
        text = self.text(row, "description")
        if self.current is None:
            self.skip("orphan_detail", "a description or measurement row with no item above it", row, line)
            return
        if not text:
            self.skip("empty_detail", "a detail row without text", row, line)
            return
        is_measurement = record == "VV" or (not record and _looks_like_measurement(text, self.text(row, "quantity")))
        if is_measurement:
            self.current.measurements.append(text)
            self.builder.attach("measurement")
        elif fold(text) != _NOTE_LABEL:
            self.current.full_description.append(text)
            self.builder.attach("full_description")
        else:
            self.builder.attach("note")


def _looks_like_measurement(text: str, quantity: str) -> bool:
    """Without record types: a VV line has a quantity, ends with " : ", or is plain arithmetic."""
    return bool(quantity) or text.rstrip().endswith(":") or _EXPRESSION.fullmatch(text) is not None


def _record_type_column(rows: Sequence[Row]) -> int | None:
    for row in rows:
        for index, value in enumerate(row):
            if value == RECORD_TYPE_MARKER:
                return index
    return None
