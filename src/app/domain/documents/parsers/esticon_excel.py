"""AspeEsticon Excel export (the road authority's soupis prací).

Rows are typed in the first column: S / O / O1 (stavba, objekt, rozpočet), SD sections, P items
followed by PP (full description), VV (quantity lines) and TS (technical specification) rows.
The header is ``Typ | Poř. číslo | Kód položky | Varianta | Název Položky | MJ | Množství | Cena …
| Cenová soustava``; the price may be one "Cena" column split into Jednotková / Celkem below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from .assembly import DocumentBuilder, PositionDraft
from .cells import Cell, cell_text, is_blank_row, row_excerpt
from .columns import Column, Header, find_header, match_columns
from .kros_excel import skip_sheet
from .workbook import Row, Workbook

FORMAT = "esticon_xlsx"
HEADER_SEARCH_ROWS = 80

COLUMNS = (
    Column("type", exact=("typ",)),
    Column("number", exact=("porcislo", "poradovecislo", "porc")),
    Column("code", exact=("kodpolozky", "kod")),
    Column("variant", exact=("varianta",)),
    Column("description", exact=("nazevpolozky", "nazev", "popis")),
    Column("unit", exact=("mj",)),
    Column("quantity", exact=("mnozstvi",)),
    Column("unit_price", prefixes=("cenajednotkova", "jednotkovacena", "jcena")),
    Column("total", prefixes=("cenacelkem", "celkovacena")),
    Column("price", exact=("cena",)),
    Column("catalog", prefixes=("cenovasoustava",)),
)
_PRICE_PARTS = (
    Column("unit_price", prefixes=("jednotkova", "jednotkovacena")),
    Column("total", prefixes=("celkem", "celkova")),
)
REQUIRED = ("type", "number", "code", "description", "unit", "quantity")
SECTION_KINDS = frozenset({"SD", "D"})
ITEM_KINDS = frozenset({"P"})


def sheet_header(rows: Sequence[Row]) -> Header | None:
    """The Esticon header of a sheet, with "Cena" resolved into unit price and total when split."""
    header = find_header(rows, COLUMNS, REQUIRED, limit=HEADER_SEARCH_ROWS)
    if header is None or "unit_price" in header.columns:
        return header
    price_col = header.columns.get("price")
    if price_col is None or header.row + 1 >= len(rows):
        return header
    below = [value if price_col <= i <= price_col + 2 else "" for i, value in enumerate(rows[header.row + 1])]
    parts = match_columns(below, _PRICE_PARTS)
    return Header(row=header.row, columns={**header.columns, **parts})


def looks_like_esticon(workbook: Workbook) -> bool:
    """True when some sheet has the Esticon header (Typ / Poř. číslo / Kód položky …)."""
    return any(sheet_header(workbook.rows(name)) is not None for name in workbook.sheet_names)


def parse_esticon_excel(workbook: Workbook) -> ParsedDocument:
    """Parse every sheet with an Esticon header; S/O/O1 rows set the stavba and object context."""
    builder = DocumentBuilder(FORMAT)
    sheets = 0
    for name in workbook.sheet_names:
        rows = workbook.rows(name)
        header = sheet_header(rows)
        if header is None:
            skip_sheet(builder, name, rows)
            continue
        sheets += 1
        _SheetReader(builder, name, header).read(rows)
    if not sheets:
        raise DocumentParseError(
            "AspeEsticon Excel file has no sheet with the header Typ / Poř. číslo / Kód položky / Název položky"
        )
    return builder.build(empty_error="AspeEsticon Excel file has a header but no P (item) rows")


class _SheetReader:
    """Reads one sheet top to bottom; S/O/O1 rows may also appear between blocks of items."""

    def __init__(self, builder: DocumentBuilder, sheet: str, header: Header) -> None:
        self.builder = builder
        self.sheet = sheet
        self.header = header
        self.object_code: str | None = None
        self.object_name: str | None = None
        self.budget_code: str | None = None
        self.budget_name: str | None = None
        self.category: str | None = None
        self.current: PositionDraft | None = None

    def text(self, row: Row, field: str) -> str:
        return cell_text(self.header.get(row, field))

    def read(self, rows: Sequence[Row]) -> None:
        type_col = self.header.columns["type"]
        for index, row in enumerate(rows):
            if index == self.header.row or type_col >= len(row):
                continue
            kind = cell_text(row[type_col]).upper()
            line = index + 1
            if kind in ("S", "O", "O1"):
                self.heading(kind, row[type_col + 1 :])
                if index > self.header.row:
                    self.skip("heading", f"an {kind} row (stavba / objekt / rozpočet heading)", row, line)
            elif index < self.header.row or is_blank_row(row) or self.is_header_part(index, kind, row):
                continue
            elif kind in SECTION_KINDS:
                code, name = self.text(row, "code") or self.text(row, "number"), self.text(row, "description")
                self.category = f"{code} - {name}" if code and name else code or name or None
                self.current = None
                self.skip("section", "a section heading; its name is the category of the items below", row, line)
            elif kind in ITEM_KINDS or (not kind and self.text(row, "code") and self.text(row, "unit")):
                self.item(row, line)
            elif kind in ("PP", "VV", "TS"):
                self.detail(row, kind, line)
            else:
                self.skip("text", f"a row of type {kind!r} that is neither an item nor a detail of one", row, line)

    def is_header_part(self, index: int, kind: str, row: Row) -> bool:
        """The row under a split "Cena" header (Jednotková | Celkem) belongs to the header."""
        return index == self.header.row + 1 and not kind and bool(match_columns(row, _PRICE_PARTS))

    def skip(self, kind: str, reason: str, row: Row, line: int) -> None:
        self.builder.skip(kind, reason, line=line, sheet=self.sheet, text=row_excerpt(row))

    def heading(self, kind: str, cells: Sequence[Cell]) -> None:
        """S / O / O1 rows: the first value after an optional "Label:" is the code, the next the name."""
        values = [cell_text(value) for value in cells if cell_text(value) and not cell_text(value).endswith(":")]
        code = values[0] if values else None
        name = values[1] if len(values) > 1 else None
        if kind == "S":
            for key, value in (("stavba_code", code), ("stavba_name", name)):
                if value:
                    self.builder.metadata.setdefault(key, value)
        elif kind == "O":
            self.object_code, self.object_name = code, name
            self.budget_code = self.budget_name = None
            self.builder.add_object(code, name)
        else:
            self.budget_code, self.budget_name = code, name
            self.builder.add_object(code, name, self.object_code)
        self.category = None
        self.current = None

    def item(self, row: Row, line: int) -> None:
        code, description = self.text(row, "code"), self.text(row, "description")
        if not code and not description:
            self.builder.warn("P row has neither a code nor a description", line=line, sheet=self.sheet)
            self.current = None
            return
        number = self.text(row, "number")
        where = f"position {number or code}"
        metadata: dict[str, Any] = {"sheet": self.sheet, "object_path": self.object_path()}
        for key, value in (
            ("variant", self.text(row, "variant")),
            ("budget_code", self.budget_code),
            ("budget_name", self.budget_name),
        ):
            if value:
                metadata[key] = value
        self.current = self.builder.add(
            PositionDraft(
                description=description,
                code=code or None,
                position_number=number or None,
                category=self.category,
                object_code=self.object_code,
                object_name=self.object_name,
                unit=self.text(row, "unit") or None,
                quantity=self.number(row, "quantity", f"{where}: quantity", line),
                unit_price=self.number(row, "unit_price", f"{where}: unit price", line),
                total_price=self.number(row, "total", f"{where}: total price", line),
                catalog=self.text(row, "catalog") or None,
                source_line=line,
                metadata=metadata,
            )
        )

    def object_path(self) -> str:
        parts = [self.object_code or self.object_name or ""]
        if self.budget_code and self.budget_code != self.object_code:
            parts.append(self.budget_code)
        return "/".join(part for part in parts if part)

    def number(self, row: Row, field: str, what: str, line: int) -> Decimal | None:
        return self.builder.number(self.header.get(row, field), what=what, line=line, sheet=self.sheet)

    def detail(self, row: Row, kind: str, line: int) -> None:
        text = self.text(row, "description") or next(
            (cell_text(value) for value in row[self.header.columns["type"] + 1 :] if cell_text(value)), ""
        )
        if self.current is None:
            self.skip("orphan_detail", f"a {kind} row with no item above it", row, line)
            return
        if not text:
            self.skip("empty_detail", f"a {kind} row without text", row, line)
            return
        self.builder.attach({"PP": "full_description", "VV": "measurement"}.get(kind, "technical_spec"))
        if kind == "PP":
            self.current.full_description.append(text)
        elif kind == "VV":
            self.current.measurements.append(text)
        else:
            spec = self.current.metadata.get("technical_spec")
            self.current.metadata["technical_spec"] = f"{spec}\n{text}" if spec else text
