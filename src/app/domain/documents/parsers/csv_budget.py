"""CSV budgets: a header row in English (code, description, unit, quantity, unit_price, total …)
or as Czech spreadsheets save it (Kód;Popis;MJ;Množství;J.cena [CZK];Cena celkem), in UTF-8,
cp1250, ISO 8859-2 or CP852, with ``;``, ``,``, tab or ``|`` separators sniffed from the header.

Nothing is lost silently: a row written with another separator than the header's (a pasted line
with tabs) is split with the separator it uses and warned about; a row with more fields than the
header (an unquoted separator inside a value) is warned about; every row that does not become a
position is counted and listed with its line and reason.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from . import budget_table
from .assembly import DocumentBuilder
from .budget_table import BudgetTableReader
from .columns import Column, Header, find_header
from .decoding import decode_text
from .limits import MAX_TABLE_ROWS, too_large
from .numbers import parse_number_or_none

FORMAT = "csv"
HEADER_SEARCH_ROWS = 30
DELIMITERS = (";", "\t", ",", "|")

COLUMNS = (
    Column("number", exact=(*budget_table.NUMBER.exact, "no", "nr", "number", "positionnumber", "item", "poz")),
    Column("type", exact=(*budget_table.TYPE.exact, "type", "itemtype")),
    Column("code", exact=(*budget_table.CODE.exact, "code", "itemcode", "cislopolozky", "znacka")),
    Column("description", exact=(*budget_table.DESCRIPTION.exact, "description", "name", "text")),
    Column("full_description", exact=("plnypopis", "fulldescription", "longdescription")),
    Column("unit", exact=(*budget_table.UNIT.exact, "unit", "uom", "units")),
    Column("quantity", exact=(*budget_table.QUANTITY.exact, "quantity", "qty")),
    Column(
        "unit_price",
        exact=("price", "rate"),
        prefixes=(*budget_table.UNIT_PRICE.prefixes, "unitprice"),
    ),
    Column("total", exact=("amount",), prefixes=(*budget_table.TOTAL.prefixes, "totalprice", "total")),
    Column("catalog", prefixes=(*budget_table.CATALOG.prefixes, "catalog", "pricelist")),
    Column("category", exact=("dil", "oddil", "section", "category", "kapitola")),
    Column("object", exact=("objekt", "object", "objectcode", "so")),
    Column("object_name", exact=("nazevobjektu", "objectname")),
    budget_table.VAT,
)
REQUIRED_SETS = (("description", "quantity", "code"), ("description", "quantity", "unit"))


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A decoded CSV file with its located header; ``rows`` are only the first rows, where it was found."""

    text: str
    rows: list[list[str]]
    header: Header
    delimiter: str
    encoding: str


def read_table(data: bytes) -> CsvTable | None:
    """The CSV table if the bytes are text with a recognisable budget header, else ``None``.

    Only the first rows are split here; ``stream_rows`` reads the rest one at a time.
    """
    decoded = decode_text(data)
    if decoded is None:
        return None
    text, encoding = decoded
    best: CsvTable | None = None
    for delimiter in DELIMITERS:
        if delimiter not in text[:20_000]:
            continue
        rows = [row for _line, row in islice(stream_rows(text, delimiter), HEADER_SEARCH_ROWS)]
        header = _header(rows)
        if header is not None and (best is None or len(header.columns) > len(best.header.columns)):
            best = CsvTable(text=text, rows=rows, header=header, delimiter=delimiter, encoding=encoding)
    return best


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their line ends, cut one at a time (``io.StringIO`` would copy the whole
    text at four bytes a character)."""
    end_of_line = "\n" if "\n" in text else "\r"
    start = 0
    while (end := text.find(end_of_line, start)) >= 0:
        yield text[start : end + 1]
        start = end + 1
    if start < len(text):
        yield text[start:]


def stream_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of every row, read lazily; a file of more than ``MAX_TABLE_ROWS`` rows is refused."""
    reader = csv.reader(_lines(text), delimiter=delimiter)
    start = 1
    try:
        for count, row in enumerate(reader, start=1):
            if count > MAX_TABLE_ROWS:
                raise too_large("The CSV file's number of rows", count, MAX_TABLE_ROWS)
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DocumentParseError(f"CSV is malformed at line {reader.line_num}: {exc}") from exc


def _header(rows: Sequence[Sequence[str]]) -> Header | None:
    for required in REQUIRED_SETS:
        header = find_header(rows, COLUMNS, required)
        if header is not None:
            return header
    return None


def _repaired(row: list[str], delimiter: str, header: Header, width: int) -> tuple[list[str], str | None]:
    """A row that came out as one field but splits with another separator into a row of the header's
    shape (most of its fields, a number where the quantity is) is split so; any other row is kept."""
    if len(row) != 1 or width < 3:
        return row, None
    for other in DELIMITERS:
        if other == delimiter or other not in row[0]:
            continue
        fields = next(csv.reader([row[0]], delimiter=other))
        if len(fields) > width // 2 and parse_number_or_none(header.get(fields, "quantity")) is not None:
            return fields, other
    return row, None


_SEPARATOR_NAMES = {";": "';'", ",": "','", "\t": "tab", "|": "'|'"}


def _separator_name(delimiter: str) -> str:
    return _SEPARATOR_NAMES.get(delimiter, repr(delimiter))


def parse_csv(data: bytes) -> ParsedDocument:
    """Parse a CSV budget; a file without a recognisable header or without positions is an error."""
    table = read_table(data)
    if table is None:
        raise DocumentParseError(
            "CSV file has no header row naming its columns "
            "(e.g. Kód;Popis;MJ;Množství;J.cena [CZK];Cena celkem or code,description,unit,quantity)"
        )
    builder = DocumentBuilder(FORMAT)
    builder.metadata.update({"encoding": table.encoding, "delimiter": table.delimiter})
    width = len(table.rows[table.header.row])
    reader = BudgetTableReader(builder, table.header)
    for line, row in islice(stream_rows(table.text, table.delimiter), table.header.row + 1, None):
        row, other = _repaired(row, table.delimiter, table.header, width)
        if other is not None:
            builder.warn(
                f"the row uses {_separator_name(other)} as separator, the header "
                f"{_separator_name(table.delimiter)}; read with {_separator_name(other)}",
                line=line,
            )
        extra = [value for value in row[width:] if value.strip()]
        if extra:
            builder.warn(
                f"the row has {len(row)} fields, the header {width}: an unquoted separator inside a value? "
                f"Values past the last column are ignored: {' | '.join(extra)[:80]}",
                line=line,
            )
        if any(value.strip() for value in row):
            reader.read_row(row, line)
    return builder.build(empty_error="CSV file has a header but no position rows")
