"""KROS Excel export: "Rekapitulace stavby" plus one sheet per object (soupis prací).

Each object sheet has a cover block ("Stavba:", "Objekt:", "Soupis:" …) and then a header row
``PČ | Typ | Kód | Popis | MJ | Množství | J.cena | Cena celkem | Cenová soustava``, found by its
labels. Below it the Typ column says what a row is: D section, K/M item, PP full description of
the item above, PSC price-set note, VV quantity line, P note. Older "Export Komplet" files and
plain sheets with the same labels (without Typ) are read the same way.

Sheets that are not budgets are recognised by their structure and titles, not their names alone,
and listed as skipped: the recapitulation (objects and totals: read for object names only), the
list of figures ("Seznam figur": named measurements F0001 … and the items using them, attached to
those items as figure references), cover sheets, and sheets without a budget header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from . import budget_table
from .assembly import DocumentBuilder
from .budget_table import BudgetTableReader, TableObject
from .cells import Cell, cell_text, fold, is_blank_row
from .columns import Column, Header, find_header
from .workbook import Row, Workbook

FORMAT = "kros_xlsx"
HEADER_SEARCH_ROWS = 600
RECAP_SHEET = "rekapitulacestavby"
EXPORT_MARKER = "exportkomplet"

COLUMNS = (
    budget_table.NUMBER,
    budget_table.TYPE,
    Column("code", exact=(*budget_table.CODE.exact, "cislopolozky")),
    budget_table.DESCRIPTION,
    budget_table.UNIT,
    budget_table.QUANTITY,
    *budget_table.PRICE_COLUMNS,
    budget_table.CATALOG,
    budget_table.VAT,
)
REQUIRED = ("code", "description", "unit", "quantity")
TITLE_ROWS = 15
_FIGURE_TITLES = ("seznamfigur", "figury")
_FIGURE_USE = "pouzitifigury"
_RECAP_TITLES = ("rekapitulace", "exportkomplet")
_COVER_TITLES = ("krycilist",)
SHEET_REASONS = {
    "recapitulation": "a recapitulation of objects and totals, not positions (object names are taken from it)",
    "figure_list": "a list of figures (named measurements) and where they are used, not positions",
    "cover": "a cover sheet (krycí list), not positions",
    "no_budget_header": "no budget header (Kód | Popis | MJ | Množství) was found on it",
}


def sheet_header(rows: Sequence[Row]) -> Header | None:
    """The budget header of a KROS-like sheet, if it has one."""
    return find_header(rows, COLUMNS, REQUIRED, limit=HEADER_SEARCH_ROWS)


def has_marker(workbook: Workbook) -> bool:
    """A "Rekapitulace stavby" sheet or a sheet starting with "Export Komplet", as KROS writes them."""
    return any(
        fold(name) == RECAP_SHEET or fold(workbook.first_cell(name)) == EXPORT_MARKER for name in workbook.sheet_names
    )


def looks_like_kros(workbook: Workbook) -> bool:
    """True when some sheet carries a KROS budget header (PČ/Typ/Kód/Popis/MJ/Množství)."""
    return any(sheet_header(workbook.rows(name)) is not None for name in workbook.sheet_names)


@dataclass(frozen=True, slots=True)
class _RecapEntry:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True, slots=True)
class _SheetObject:
    code: str | None
    name: str | None
    parent: str | None

    @property
    def path(self) -> str:
        own = self.code or self.name or ""
        return f"{self.parent}/{own}" if self.parent else own


def parse_kros_excel(workbook: Workbook) -> ParsedDocument:
    """Parse every sheet that has a budget header; a workbook without one is an error."""
    builder = DocumentBuilder(FORMAT)
    recap: dict[str, _RecapEntry] = {}
    headers: list[tuple[str, Header]] = []
    figure_uses: list[_FigureUse] = []
    for name in workbook.sheet_names:
        rows = workbook.rows(name)
        header = sheet_header(rows)
        kind = sheet_kind(name, rows, header)
        if kind == "budget" and header is not None:
            headers.append((name, header))
            continue
        if kind == "recapitulation" or fold(name) == RECAP_SHEET or fold(workbook.first_cell(name)) == EXPORT_MARKER:
            recap.update(_read_recap(rows))
            _read_stavba(rows, builder)
        elif kind == "figure_list" and header is not None:
            figure_uses.extend(_read_figure_uses(rows, header))
        skip_sheet(builder, name, rows, kind)
    if not headers:
        raise DocumentParseError("Excel file has no sheet with a budget header (PČ/Typ/Kód/Popis/MJ/Množství)")
    for name, header in headers:
        rows = workbook.rows(name)
        cover = rows[: header.row]
        if not builder.metadata.get("stavba_name"):
            _read_stavba(cover, builder)
        sheet_object = _sheet_object(name, cover, recap)
        if sheet_object.parent:
            parent = recap.get(sheet_object.parent)
            builder.add_object(sheet_object.parent, parent.name if parent else None, None)
        builder.add_object(sheet_object.code, sheet_object.name, sheet_object.parent)
        table_object = TableObject(code=sheet_object.code, name=sheet_object.name, path=sheet_object.path)
        reader = BudgetTableReader(builder, header, sheet=name, obj=table_object)
        reader.read(rows[header.row + 1 :], lines=range(header.row + 2, len(rows) + 1))
    _attach_figures(builder, figure_uses)
    return builder.build(empty_error="KROS Excel file has a budget header but no K/M positions under it")


def skip_sheet(builder: DocumentBuilder, name: str, rows: Sequence[Row], kind: str | None = None) -> None:
    """Account for a sheet that is not a budget: its kind (from its structure), reason and rows."""
    kind = kind or sheet_kind(name, rows, None)
    builder.skip_sheet(name, kind, SHEET_REASONS[kind], sum(1 for row in rows if not is_blank_row(row)))


def sheet_kind(name: str, rows: Sequence[Row], header: Header | None) -> str:
    """budget, figure_list, recapitulation, cover or no_budget_header: from the sheet's structure.

    A list of figures has the labels of a budget (Kód | Popis | MJ | Výměra) but no Typ and no price
    columns, a "Seznam figur" title or "Použití figury:" rows; recapitulation and cover sheets have
    no budget header and say what they are in their title rows.
    """
    if header is not None:
        has_prices = any(field in header.columns for field in ("type", "unit_price", "total", "unit_price_indexed"))
        above = _titles(rows[: header.row])
        if any(title.startswith(_FIGURE_TITLES) for title in above) or "figur" in fold(name):
            return "figure_list"
        if not has_prices and any(
            _first_label(row) == _FIGURE_USE for row in rows[header.row + 1 : header.row + 1 + HEADER_SEARCH_ROWS]
        ):
            return "figure_list"
        return "budget"
    titles = _titles(rows[:TITLE_ROWS])
    folded_name = fold(name)
    if folded_name.startswith(_RECAP_TITLES) or any(title.startswith(_RECAP_TITLES) for title in titles):
        return "recapitulation"
    if any(title.startswith(_FIGURE_TITLES) for title in titles) or "figur" in folded_name:
        return "figure_list"
    if folded_name.startswith(_COVER_TITLES) or any(title.startswith(_COVER_TITLES) for title in titles):
        return "cover"
    return "no_budget_header"


def _titles(rows: Sequence[Row]) -> list[str]:
    return [fold(value) for row in rows for value in row if isinstance(value, str) and value.strip()]


def _first_label(row: Row) -> str:
    return next((fold(value) for value in row if cell_text(value)), "")


@dataclass(frozen=True, slots=True)
class _FigureUse:
    """A figure of "Seznam figur" and one item (by object and code) whose quantity uses it."""

    object_code: str | None
    item_code: str
    figure: str
    description: str
    quantity: str


def _read_figure_uses(rows: Sequence[Row], header: Header) -> list[_FigureUse]:
    """The "Použití figury:" blocks: object rows (SO 1 | name), figure rows, then the items using them."""
    uses: list[_FigureUse] = []
    object_code: str | None = None
    figure: tuple[str, str] | None = None
    in_uses = False
    for row in rows[header.row + 1 :]:
        code = cell_text(header.get(row, "code"))
        description = cell_text(header.get(row, "description"))
        unit = cell_text(header.get(row, "unit"))
        if fold(code) == _FIGURE_USE or fold(description) == _FIGURE_USE:
            in_uses = True
        elif code and not unit:
            object_code, figure, in_uses = code, None, False
        elif code and in_uses and figure is not None:
            quantity = cell_text(header.get(row, "quantity"))
            uses.append(_FigureUse(object_code, code, figure[0], figure[1], quantity))
        elif code:
            figure, in_uses = (code, description), False
    return uses


def _attach_figures(builder: DocumentBuilder, uses: Sequence[_FigureUse]) -> None:
    """Each figure use becomes a figure reference in the metadata of the item it names."""
    if not uses:
        return
    by_key: dict[tuple[str | None, str], list[_FigureUse]] = {}
    for use in uses:
        by_key.setdefault((use.object_code, use.item_code), []).append(use)
    for draft in builder.positions:
        if draft.code is None:
            continue
        for use in by_key.get((draft.object_code, draft.code), ()):
            draft.add_figure(use.figure, use.quantity or None, use.description or None)
            builder.attach("figure_reference")


def _labelled(rows: Sequence[Row], wanted: set[str]) -> dict[str, str]:
    """Values of cover labels such as "Stavba:": to the right on the same row, else just below it."""
    found: dict[str, str] = {}
    for index, row in enumerate(rows):
        for col, value in enumerate(row):
            if not value or not _is_label(value):
                continue
            label = fold(value)
            if label not in wanted or label in found:
                continue
            right = next((cell_text(cell) for cell in row[col + 1 :] if cell_text(cell)), "")
            if right and not _is_label(right):
                found[label] = right
            elif not right and index + 1 < len(rows):
                below = rows[index + 1][col : col + 4]
                texts = [cell_text(cell) for cell in below if cell_text(cell)]
                found[label] = texts[0] if texts and not _is_label(texts[0]) else ""
            else:
                found[label] = ""
    return found


def _is_label(value: Cell) -> bool:
    """A cover label such as "Stavba:" (the cheap ``in`` test keeps scanning wide sheets fast)."""
    return isinstance(value, str) and ":" in value and value.rstrip().endswith(":")


def _read_stavba(rows: Sequence[Row], builder: DocumentBuilder) -> None:
    values = _labelled(rows, {"kod", "stavba", "datum", "misto", "zadavatel"})
    for label, key in (
        ("kod", "stavba_code"),
        ("stavba", "stavba_name"),
        ("datum", "date"),
        ("misto", "place"),
        ("zadavatel", "client"),
    ):
        value = values.get(label, "").strip()
        if value and not builder.metadata.get(key):
            builder.metadata[key] = value


def _read_recap(rows: Sequence[Row]) -> dict[str, _RecapEntry]:
    """Objects listed in "Rekapitulace stavby": code and full name; deeper indentation = child."""
    header = None
    for index, row in enumerate(rows):
        labels = [fold(value) for value in row]
        if "kod" in labels and "popis" in labels and not any(_is_label(value) for value in row):
            header = (index, labels.index("kod"), labels.index("popis"))
            break
    if header is None:
        return {}
    start, code_col, name_col = header
    entries: dict[str, _RecapEntry] = {}
    stack: list[tuple[int, str]] = []
    for row in rows[start + 1 :]:
        code_at = next((col for col in range(code_col, min(name_col, len(row))) if cell_text(row[col])), None)
        name = next((cell_text(value) for value in row[name_col : name_col + 6] if cell_text(value)), "")
        if code_at is None or not name:
            continue
        code = cell_text(row[code_at])
        while stack and stack[-1][0] >= code_at:
            stack.pop()
        parent = stack[-1][1] if stack else None
        entries.setdefault(code, _RecapEntry(code=code, name=name, parent=parent))
        stack.append((code_at, code))
    return entries


def _split_code_name(text: str) -> tuple[str | None, str | None]:
    code, sep, name = text.partition(" - ")
    if sep:
        return code.strip() or None, name.strip() or None
    return None, text.strip() or None


def _sheet_object(sheet: str, cover: Sequence[Row], recap: dict[str, _RecapEntry]) -> _SheetObject:
    """The sheet's object: "Soupis:" (child of "Objekt:") or "Objekt:", completed from the recap."""
    values = _labelled(cover, {"objekt", "soupis"})
    objekt = _split_code_name(values.get("objekt", ""))
    soupis = _split_code_name(values.get("soupis", ""))
    if any(soupis):
        (code, name), parent = soupis, objekt[0]
    else:
        (code, name), parent = objekt, None
    sheet_code, sheet_name = _split_code_name(sheet)
    code = code or sheet_code
    entry = recap.get(code) if code else None
    if entry is not None:
        name = name or entry.name
        parent = parent or entry.parent
    return _SheetObject(code=code, name=name or sheet_name, parent=parent)
