"""Rows of a budget table under a located header, as KROS sheets and Czech CSV files lay them out.

With a Typ column each row says what it is: D section, K/M item, PP full description of the item
above, VV quantity line, PSC price-set note, P note. Without one, a row with a unit or quantity is
an item and a row with text only starts a section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .assembly import DocumentBuilder, PositionDraft
from .cells import Cell, cell_text, fold, is_blank_row
from .columns import Column, Header

SECTION_GROUPS = frozenset({"HSV", "PSV", "M", "VRN", "OST", "HZS", "ON", "VN"})
DETAIL_KINDS = frozenset({"PP", "VV", "PSC", "P"})
_ROW_KINDS = DETAIL_KINDS | {"D", "K", "M"}
_PRICE_NOTE_PREFIX = "poznámka k souboru cen:"

NUMBER = Column("number", exact=("pc", "porc", "poradovecislo", "cp"))
TYPE = Column("type", exact=("typ", "tv", "typpolozky"))
CODE = Column("code", exact=("kod", "kodpolozky"))
DESCRIPTION = Column("description", exact=("popis", "nazev", "popispolozky", "nazevpolozky"))
UNIT = Column("unit", exact=("mj", "mernajednotka", "jednotka"))
QUANTITY = Column("quantity", exact=("mnozstvi", "vymera", "mnozstvicelkem"))
UNIT_PRICE = Column("unit_price", prefixes=("jcena", "jednotkovacena", "cenajednotkova", "cenamj"))
TOTAL = Column("total", prefixes=("cenacelkem", "celkovacena", "celkem"))
CATALOG = Column("catalog", prefixes=("cenovasoustava", "censoustava"))
VAT = Column("vat", exact=("dph", "sazbadph"))


@dataclass(frozen=True, slots=True)
class TableObject:
    """The object (SO …) the rows belong to, unless a row names its own."""

    code: str | None = None
    name: str | None = None
    path: str | None = None


class BudgetTableReader:
    """Reads the rows below ``header`` into positions of ``builder``."""

    def __init__(
        self,
        builder: DocumentBuilder,
        header: Header,
        *,
        sheet: str | None = None,
        obj: TableObject | None = None,
    ) -> None:
        self.builder = builder
        self.header = header
        self.sheet = sheet
        self.obj = obj or TableObject()
        self.has_type = "type" in header.columns
        self.sections: list[str] = []
        self.current: PositionDraft | None = None

    def read(self, rows: Sequence[Sequence[Cell]], lines: Sequence[int] | None = None) -> None:
        """Read ``rows`` (those after the header); ``lines`` gives each row's 1-based line number."""
        for position, row in enumerate(rows):
            if is_blank_row(row):
                continue
            line = lines[position] if lines is not None else position + 1
            kind = self.text(row, "type").upper() if self.has_type else ""
            if kind not in _ROW_KINDS and self.is_header_again(row):
                continue
            if kind == "D":
                self.section(self.text(row, "code"), self.text(row, "description"))
            elif kind in ("K", "M"):
                self.item(row, line, kind)
            elif kind in DETAIL_KINDS:
                self.detail(row, kind, line)
            elif kind:
                if self.text(row, "code") and self.text(row, "unit"):
                    self.item(row, line, kind)
            elif not self.has_type:
                self.untyped(row, line)
            elif self.text(row, "unit") or self.text(row, "quantity"):
                self.item(row, line, None)  # an item whose Typ cell was left empty

    def text(self, row: Sequence[Cell], field: str) -> str:
        return cell_text(self.header.get(row, field))

    def section(self, code: str, name: str) -> None:
        """A D row: groups (HSV, PSV, M, VRN …) hold numbered sections such as "1 - Zemní práce"."""
        label = f"{code} - {name}" if code and name else code or name
        if not label:
            return
        if code.upper() in SECTION_GROUPS or not self.sections:
            self.sections = [label]
        elif self.sections[0].split(" - ", 1)[0].upper() in SECTION_GROUPS:
            self.sections = [self.sections[0], label]
        else:
            self.sections = [label]
        self.current = None

    def item(self, row: Sequence[Cell], line: int, kind: str | None) -> None:
        code, description = self.text(row, "code"), self.text(row, "description")
        if not code and not description:
            self.builder.warn("item row has neither a code nor a description", line=line, sheet=self.sheet)
            self.current = None
            return
        number = self.text(row, "number")
        where = f"position {number or code}"
        object_code, object_name, object_path = self.row_object(row)
        category = self.text(row, "category") or (self.sections[-1] if self.sections else None)
        metadata: dict[str, Any] = {}
        if self.sheet:
            metadata["sheet"] = self.sheet
        if object_path:
            metadata["object_path"] = object_path
        if self.sections:
            metadata["section_path"] = list(self.sections)
        vat = self.text(row, "vat")
        if vat:
            metadata["vat_rate_type"] = vat
        draft = PositionDraft(
            description=description,
            code=code or None,
            position_number=number or None,
            category=category,
            object_code=object_code,
            object_name=object_name,
            unit=self.text(row, "unit") or None,
            quantity=self.number(row, "quantity", f"{where}: quantity", line),
            unit_price=self.number(row, "unit_price", f"{where}: unit price", line),
            total_price=self.number(row, "total", f"{where}: total price", line),
            catalog=self.text(row, "catalog") or None,
            item_type=kind or None,
            source_line=line,
            metadata=metadata,
        )
        full = self.text(row, "full_description")
        if full:
            draft.full_description.append(full)
        self.current = self.builder.add(draft)

    def row_object(self, row: Sequence[Cell]) -> tuple[str | None, str | None, str | None]:
        code = self.text(row, "object")
        if not code:
            return self.obj.code, self.obj.name, self.obj.path
        name = self.text(row, "object_name") or None
        self.builder.add_object(code, name)
        return code, name, code

    def number(self, row: Sequence[Cell], field: str, what: str, line: int) -> Decimal | None:
        return self.builder.number(self.header.get(row, field), what=what, line=line, sheet=self.sheet)

    def detail(self, row: Sequence[Cell], kind: str, line: int) -> None:
        text = self.text(row, "description")
        if self.current is None:
            if text:
                self.builder.warn(f"{kind} row has no item above it", line=line, sheet=self.sheet)
            return
        if not text:
            return
        if kind == "PP":
            self.current.full_description.append(text)
        elif kind == "VV":
            self.current.measurements.append(text)
        elif kind == "PSC":
            if text.casefold().startswith(_PRICE_NOTE_PREFIX):
                text = text[len(_PRICE_NOTE_PREFIX) :].strip()
            self.current.metadata["price_set_note"] = text
        else:
            self.current.add_note(text)

    def untyped(self, row: Sequence[Cell], line: int) -> None:
        """No Typ column: a unit or quantity makes an item; code/description alone starts a section."""
        if self.text(row, "unit") or self.text(row, "quantity"):
            self.item(row, line, None)
            return
        code, description = self.text(row, "code"), self.text(row, "description")
        if code or description:
            self.sections = []
            self.section(code, description)

    def is_header_again(self, row: Sequence[Cell]) -> bool:
        """A repeated header (page breaks in exports) is skipped, not read as an item or section."""
        return fold(self.text(row, "description")) in DESCRIPTION.exact and (
            "unit" not in self.header.columns or fold(self.text(row, "unit")) in UNIT.exact
        )
