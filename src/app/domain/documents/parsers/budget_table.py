"""Rows of a budget table under a located header, as KROS sheets and Czech CSV files lay them out.

Only priced line items become positions. With a Typ column each row says what it is: K/M item, D
section, PP full description of the item above, VV quantity line, PSC price-set note, P note. A row
whose Typ is empty is an item only when it looks like one (a number, a code and a unit); otherwise
it is a measurement line or figure reference of the item above, a subtotal, or text, and is kept
with that item or counted as skipped. Without a Typ column, a row with a unit (or a quantity and a
price) is an item and a row with text only starts a section.

Nothing is dropped silently: every non-blank row is a position, a detail kept with its position
(``DocumentBuilder.attach``) or a skipped row counted and listed with its line and reason
(``DocumentBuilder.skip``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .assembly import DocumentBuilder, PositionDraft
from .cells import Cell, cell_text, fold, is_blank_row, row_excerpt
from .columns import Column, Header
from .numbers import parse_number_or_none, plain_number, quantize_money

SECTION_GROUPS = frozenset({"HSV", "PSV", "M", "VRN", "OST", "HZS", "ON", "VN"})
DETAIL_KINDS = frozenset({"PP", "VV", "PSC", "P"})
ITEM_KINDS = frozenset({"K", "M"})
_ROW_KINDS = DETAIL_KINDS | ITEM_KINDS | {"D"}
_PRICE_NOTE_PREFIX = "poznámka k souboru cen:"
# Labels of subtotal and recapitulation rows ("Náklady soupisu celkem", "Celkem za díl", "Součet" …).
_SUMMARY_PREFIXES = (
    "celkem",
    "soucet",
    "mezisoucet",
    "naklady",
    "rekapitulace",
    "cenacelkem",
    "cenabezdph",
    "cenasdph",
    "dph",
    "total",
    "subtotal",
    "sum",
)
# Item codes have at least five digits (ÚRS 9, OTSKP 5–6, RTS and R-items mixed); section codes fewer.
_ITEM_CODE = re.compile(r"(?=(?:\D*\d){5})[0-9A-Za-z.\-_/]{5,}")
_LABEL_LENGTH = 20  # header labels and summary words are short; long texts are never folded
_EXPRESSION = re.compile(r"[\d\s,.+\-*/()=^\[\]]+")

NUMBER = Column("number", exact=("pc", "porc", "poradovecislo", "cp", "por", "cpol", "polc"))
TYPE = Column("type", exact=("typ", "tv", "typpolozky"))
CODE = Column("code", exact=("kod", "kodpolozky"))
DESCRIPTION = Column("description", exact=("popis", "nazev", "popispolozky", "nazevpolozky"))
UNIT = Column("unit", exact=("mj", "mernajednotka", "jednotka"))
QUANTITY = Column("quantity", exact=("mnozstvi", "vymera", "mnozstvicelkem"))
# An old KROS calculation export has "Jednotková cena neindex." | "Index ceny" | "J. cena indexovaná":
# these three come before UNIT_PRICE so that each claims its own cell.
UNIT_PRICE_RAW = Column(
    "unit_price_raw", prefixes=("jednotkovacenaneindex", "jcenaneindex", "jcenabezindexu", "jednotkovacenabezindexu")
)
UNIT_PRICE_INDEXED = Column(
    "unit_price_indexed", prefixes=("jcenaindex", "jednotkovacenaindex", "cenaindexovana", "indexovanajcena")
)
PRICE_INDEX = Column("price_index", exact=("indexceny", "index", "cenovyindex"))
UNIT_PRICE = Column("unit_price", prefixes=("jcena", "jednotkovacena", "cenajednotkova", "cenamj"))
ASSEMBLY_PRICE = Column("unit_price_assembly", prefixes=("montazjedn", "jednmontaz", "jcenamontaz"))
SUPPLY_PRICE = Column("unit_price_supply", prefixes=("dodavkajedn", "jednodavka", "jcenadodavka"))
TOTAL = Column("total", prefixes=("cenacelkem", "celkovacena", "celkem"))
CATALOG = Column("catalog", prefixes=("cenovasoustava", "censoustava"))
VAT = Column("vat", exact=("dph", "sazbadph"))
PRICE_COLUMNS = (UNIT_PRICE_RAW, UNIT_PRICE_INDEXED, PRICE_INDEX, UNIT_PRICE, ASSEMBLY_PRICE, SUPPLY_PRICE, TOTAL)
_UNIT_PRICE_FIELDS = ("unit_price_indexed", "unit_price", "unit_price_raw")


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

    def read(self, rows: Iterable[Sequence[Cell]], lines: Iterable[int] | None = None) -> None:
        """Read ``rows`` (those after the header); ``lines`` gives each row's 1-based line number."""
        numbered = zip(lines, rows, strict=False) if lines is not None else enumerate(rows, start=1)
        for line, row in numbered:
            if is_blank_row(row):
                continue
            self.read_row(row, line)

    def read_row(self, row: Sequence[Cell], line: int) -> None:
        kind = self.text(row, "type").upper() if self.has_type else ""
        if kind not in _ROW_KINDS and self.is_header_again(row):
            self.skip("repeated_header", "the header row repeated (a page break of the export)", row, line)
        elif kind == "D":
            self.section(self.text(row, "code"), self.text(row, "description"), row, line)
        elif kind in ITEM_KINDS:
            self.item(row, line, kind)
        elif kind == "P" and self.looks_like_item(row, need_number=False):
            self.item(row, line, kind)  # AspeEsticon-style tables mark items with P
        elif kind in DETAIL_KINDS:
            self.detail(row, kind, line)
        elif kind:
            if self.looks_like_item(row, need_number=False):
                self.builder.warn(f"row type {kind!r} is not K or M; read as a position", line=line, sheet=self.sheet)
                self.item(row, line, kind)
            else:
                self.skip("unknown_type", f"row type {kind!r} is neither an item (K/M) nor a detail row", row, line)
        elif self.is_summary(row):
            self.skip("summary", "a subtotal or recapitulation row, not a position", row, line)
        elif not self.has_type:
            self.untyped(row, line)
        else:
            self.untyped_in_typed_table(row, line)

    def text(self, row: Sequence[Cell], field: str) -> str:
        return cell_text(self.header.get(row, field))

    def skip(self, kind: str, reason: str, row: Sequence[Cell], line: int) -> None:
        self.builder.skip(kind, reason, line=line, sheet=self.sheet, text=row_excerpt(row))

    def section(self, code: str, name: str, row: Sequence[Cell], line: int) -> None:
        """A D row: groups (HSV, PSV, M, VRN …) hold numbered sections such as "1 - Zemní práce"."""
        label = f"{code} - {name}" if code and name else code or name
        self.current = None
        self.skip("section", "a section heading (its name is the category of the items below)", row, line)
        if not label:
            return
        if code.upper() in SECTION_GROUPS or not self.sections:
            self.sections = [label]
        elif self.sections[0].split(" - ", 1)[0].upper() in SECTION_GROUPS:
            self.sections = [self.sections[0], label]
        else:
            self.sections = [label]

    def looks_like_item(self, row: Sequence[Cell], *, need_number: bool) -> bool:
        """A code, a description and a unit (and, if asked, a position number): the shape of an item."""
        has = all(self.text(row, field) for field in ("code", "description", "unit"))
        return has and (not need_number or bool(self.text(row, "number")) or "number" not in self.header.columns)

    def is_summary(self, row: Sequence[Cell]) -> bool:
        """A subtotal row: no unit, and its first text is a summary label or only a total is given."""
        if self.text(row, "unit"):
            return False
        first = next((text for text in (cell_text(value) for value in row) if text), "")
        label = fold(first[:_LABEL_LENGTH])
        if label and not label.isdigit() and label.startswith(_SUMMARY_PREFIXES):
            return True
        return bool(self.text(row, "total")) and not any(
            self.text(row, field) for field in ("code", "quantity", "unit_price")
        )

    def item(self, row: Sequence[Cell], line: int, kind: str | None) -> None:
        code, description = self.text(row, "code"), self.text(row, "description")
        if not code and not description:
            self.builder.warn("item row has neither a code nor a description", line=line, sheet=self.sheet)
            self.skip("unreadable", "an item row with neither a code nor a description", row, line)
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
        quantity = self.number(row, "quantity", f"{where}: quantity", line)
        total = self.number(row, "total", f"{where}: total price", line)
        unit = self.text(row, "unit") or None
        draft = PositionDraft(
            description=description,
            code=code or None,
            position_number=number or None,
            category=category,
            object_code=object_code,
            object_name=object_name,
            unit=unit,
            quantity=quantity,
            unit_price=self.unit_price(row, quantity, total, where, line, metadata),
            total_price=total,
            catalog=self.text(row, "catalog") or None,
            item_type=kind or None,
            source_line=line,
            metadata=metadata,
        )
        if unit is None:
            priced = "priced " if draft.unit_price or total else ""
            self.builder.warn(
                f"{where}: a {priced}position without a unit (MJ); read as a position, check the unit",
                line=line,
                sheet=self.sheet,
            )
        if quantity is None and draft.unit_price is None and total is None and not self.text(row, "quantity"):
            self.builder.warn(f"{where}: no quantity and no price", line=line, sheet=self.sheet)
        full = self.text(row, "full_description")
        if full:
            draft.full_description.append(full)
        self.current = self.builder.add(draft)

    def unit_price(
        self,
        row: Sequence[Cell],
        quantity: Decimal | None,
        total: Decimal | None,
        where: str,
        line: int,
        metadata: dict[str, Any],
    ) -> Decimal | None:
        """The unit price that multiplies to the line total; other price columns go to metadata.

        An old KROS calculation export has a non-indexed price, an index and the indexed price; the
        line total is quantity × the indexed price. Each candidate is tried against the total, the
        indexed one first; with no total to check, the indexed one (or raw × index) is taken.
        """
        candidates: dict[str, Decimal] = {}
        for field in (*_UNIT_PRICE_FIELDS, "price_index", "unit_price_assembly", "unit_price_supply"):
            if field in self.header.columns:
                value = self.number(row, field, f"{where}: {field.replace('_', ' ')}", line)
                if value is not None:
                    candidates[field] = value
        for field in ("price_index", "unit_price_assembly", "unit_price_supply"):
            if field in candidates:
                metadata[field] = plain_number(candidates[field])
        if "unit_price_raw" in candidates:
            metadata["unit_price_not_indexed"] = plain_number(candidates["unit_price_raw"])
        if "price_index" in candidates and "unit_price_raw" in candidates and "unit_price_indexed" not in candidates:
            candidates["unit_price_indexed"] = candidates["unit_price_raw"] * candidates["price_index"]
        prices = [candidates[field] for field in _UNIT_PRICE_FIELDS if field in candidates]
        if not prices:
            return None
        if quantity is not None and total is not None and len(prices) > 1:
            for price in prices:
                if _multiplies_to(quantity, price, total):
                    return price
        return prices[0]

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
        code = self.text(row, "code")
        if self.current is None:
            self.skip("orphan_detail", f"a {kind} row with no item above it", row, line)
            if text:
                self.builder.warn(f"{kind} row has no item above it", line=line, sheet=self.sheet)
            return
        if not text and not code:
            self.skip("empty_detail", f"a {kind} row without text", row, line)
            return
        if kind == "PP":
            self.current.full_description.append(text)
            self.builder.attach("full_description")
        elif kind == "VV":
            self.measurement(row, text, code)
        elif kind == "PSC":
            if text.casefold().startswith(_PRICE_NOTE_PREFIX):
                text = text[len(_PRICE_NOTE_PREFIX) :].strip()
            self.current.metadata["price_set_note"] = text
            self.builder.attach("price_note")
        else:
            self.current.add_note(text or code)
            self.builder.attach("note")

    def measurement(self, row: Sequence[Cell], text: str, code: str) -> None:
        """A VV line of the item above; a code on it names a figure whose quantity it takes."""
        assert self.current is not None
        if code:
            quantity = parse_number_or_none(self.header.get(row, "quantity"))
            self.current.add_figure(code, plain_number(quantity), text or None)
            self.builder.attach("figure_reference")
        if text:
            self.current.measurements.append(text)
            self.builder.attach("measurement")

    def untyped_in_typed_table(self, row: Sequence[Cell], line: int) -> None:
        """An empty Typ in a typed table: an item only with the full shape of one, else a detail."""
        if self.looks_like_item(row, need_number=True):
            self.item(row, line, None)  # an item whose Typ cell was left empty
            return
        code, text, quantity = self.text(row, "code"), self.text(row, "description"), self.text(row, "quantity")
        if self.current is not None and (code or text or quantity):
            self.measurement(row, text or ("" if code else quantity), code)
            return
        self.skip("text", "a row without a type that is neither an item nor a detail of one", row, line)

    def untyped(self, row: Sequence[Cell], line: int) -> None:
        """No Typ column: a unit, or a quantity with a price, makes an item; text alone starts a section."""
        code, description = self.text(row, "code"), self.text(row, "description")
        unit, quantity = self.text(row, "unit"), self.text(row, "quantity")
        priced = bool(self.text(row, "total") or self.text(row, "unit_price"))
        if unit or quantity or priced:
            if not code and not description:
                self.item(row, line, None)  # warns and counts it as unreadable
            elif unit or code or priced or not _EXPRESSION.fullmatch(description) or self.current is None:
                self.item(row, line, None)
            else:  # an arithmetic line under an item: its výkaz výměr
                self.measurement(row, description, "")
            return
        if _ITEM_CODE.fullmatch(code):  # a catalogue code is an item, even with nothing filled in
            self.item(row, line, None)
        elif code or description:
            self.sections = []
            self.section(code, description, row, line)
        else:
            self.skip("unreadable", "a row with none of code, description, unit, quantity or price", row, line)

    def is_header_again(self, row: Sequence[Cell]) -> bool:
        """A repeated header (page breaks in exports) is skipped, not read as an item or section."""
        description = self.text(row, "description")
        return (
            len(description) <= _LABEL_LENGTH
            and fold(description) in DESCRIPTION.exact
            and ("unit" not in self.header.columns or fold(self.text(row, "unit")) in UNIT.exact)
        )


def _multiplies_to(quantity: Decimal, price: Decimal, total: Decimal) -> bool:
    """quantity × price gives the total within the rounding of a line (and of a 2-dp unit price)."""
    tolerance = Decimal("0.01") + abs(quantity) * Decimal("0.005")
    return abs(quantize_money(quantity * price) - total) <= tolerance
