"""Reference data the audit and the enrichment judge against: catalogue items, exposure minimums, price bands.

The shipped versions live in ``data/`` next to this module and are loaded into PostgreSQL by the
knowledge-base service; everything here is pure (bytes in, structs out), so the rules can test
against the same data without a database. Money is ``Decimal``.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

import msgspec
from lxml import etree

from app.domain.kb.codes import code_family, code_shape, normalize_code
from app.domain.kb.units import normalize_unit

DATA_PACKAGE = "app.domain.kb"
CATALOG_EXTRACT_FILE = "catalog_extract.csv"
EXPOSURE_CLASSES_FILE = "exposure_classes.json"
PRICE_BANDS_FILE = "price_bands.json"
_T = TypeVar("_T")
CATALOG_COLUMNS = ("catalog", "code", "description", "unit", "reference_price", "valid_from")


class CatalogFileError(ValueError):
    """A catalogue file that cannot be read; the message is for people."""


# --------------------------------------------------------------------------------------- catalogue


class CatalogItem(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One priced catalogue item (ÚRS, OTSKP, RTS …). ``reference_price`` is CZK excl. VAT, or None."""

    catalog: str
    code: str
    description: str
    unit: str | None = None
    reference_price: Decimal | None = None
    valid_from: datetime.date | None = None
    technical_spec: str | None = None


class CatalogIndex(Mapping[str, CatalogItem]):
    """Read-only look-up of catalogue items by code (case and spaces ignored), keeping file order.

    When a code occurs twice, the newest ``valid_from`` wins. Also answers "which codes are close to
    this one" (same leading digits) and "which catalogue families are loaded at all".
    """

    _NEIGHBOUR_PREFIX = {"urs": 6, "otskp": 4, "rts": 5}

    def __init__(self, items: Iterable[CatalogItem]) -> None:
        by_code: dict[str, CatalogItem] = {}
        for item in items:
            key = normalize_code(item.code)
            if not key:
                continue
            known = by_code.get(key)
            if known is None or _newer(item, known):
                by_code[key] = item
        self._by_code = by_code
        self._families = frozenset(
            family for item in by_code.values() if (family := code_family(item.code, item.catalog))
        )
        self._by_prefix: dict[str, list[CatalogItem]] | None = None
        self._derived: dict[str, Any] = {}

    @classmethod
    def of(cls, catalog: Mapping[str, CatalogItem] | Iterable[CatalogItem]) -> CatalogIndex:
        """Wrap a mapping or a list of items (an existing index is returned as is)."""
        if isinstance(catalog, CatalogIndex):
            return catalog
        if isinstance(catalog, Mapping):
            return cls(catalog.values())
        return cls(catalog)

    def __getitem__(self, code: str) -> CatalogItem:
        return self._by_code[normalize_code(code)]

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and normalize_code(code) in self._by_code

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)

    def derived(self, name: str, build: Callable[[CatalogIndex], _T]) -> _T:
        """A structure computed from this index once and kept with it (search indexes, groupings)."""
        if name not in self._derived:
            self._derived[name] = build(self)
        result: _T = self._derived[name]
        return result

    @property
    def families(self) -> frozenset[str]:
        """Catalogue families ("urs", "otskp", "rts") with at least one item loaded."""
        return self._families

    def neighbours(self, code: str | None, limit: int = 3) -> list[CatalogItem]:
        """Items whose code shares the longest leading part with ``code`` (at least a chapter's worth)."""
        key = normalize_code(code)
        family = code_family(code)
        if not key or family is None:
            return []
        minimum = self._NEIGHBOUR_PREFIX[family]
        prefixes = self._prefix_table()
        for length in range(len(key) - 1, minimum - 1, -1):
            found = [item for item in prefixes.get(key[:length], ()) if normalize_code(item.code) != key]
            if found:
                return sorted(found, key=lambda item: normalize_code(item.code))[:limit]
        return []

    def _prefix_table(self) -> dict[str, list[CatalogItem]]:
        if self._by_prefix is None:
            table: dict[str, list[CatalogItem]] = {}
            for key, item in self._by_code.items():
                for length in range(4, len(key)):
                    table.setdefault(key[:length], []).append(item)
            self._by_prefix = table
        return self._by_prefix


def _newer(item: CatalogItem, known: CatalogItem) -> bool:
    if item.valid_from is None:
        return False
    return known.valid_from is None or item.valid_from > known.valid_from


def load_catalog_extract() -> list[CatalogItem]:
    """The shipped catalogue extract (codes, units and prices seen in real 2025 exports)."""
    return list(_shipped_catalog())


@lru_cache(maxsize=1)
def load_catalog_index() -> CatalogIndex:
    """The shipped catalogue extract as a look-up, built once per process."""
    return CatalogIndex(_shipped_catalog())


@lru_cache(maxsize=1)
def _shipped_catalog() -> tuple[CatalogItem, ...]:
    return tuple(read_catalog_file(_data(CATALOG_EXTRACT_FILE)))


def read_catalog_file(
    data: bytes, *, catalog: str | None = None, valid_from: datetime.date | None = None
) -> list[CatalogItem]:
    """Read a whole catalogue: OTSKP in XC4 XML, or CSV with the columns of ``catalog_extract.csv``.

    CSV may be UTF-8 or cp1250, separated by ``;`` or ``,``, with decimal commas. ``catalog`` and
    ``valid_from`` fill in what the file does not say (XC4 price lists name neither).
    """
    if not data.strip():
        raise CatalogFileError("The catalogue file is empty.")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        items = _read_xc4(data, catalog=catalog, valid_from=valid_from)
    else:
        items = _read_csv(data, catalog=catalog, valid_from=valid_from)
    if not items:
        raise CatalogFileError("The file holds no catalogue items (no row with a code).")
    return items


_XC4_FIELDS = {
    "code": ("znacka", "kod", "code"),
    "description": ("nazev", "popis", "description"),
    "unit": ("mj", "merna_jednotka", "unit"),
    "price": ("jedn_cena", "jednotkova_cena", "cena", "reference_price"),
    "spec": ("technicka_specifikace",),
}
_SYSTEM_NAME_FIELDS = ("typ_cs", "nazev", "oznaceni", "name")
_SYSTEM_DATE_FIELDS = ("platnost_od", "platnost", "valid_from")


def _read_xc4(data: bytes, *, catalog: str | None, valid_from: datetime.date | None) -> list[CatalogItem]:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise CatalogFileError(f"The catalogue XML is broken: {exc}") from exc
    items: list[CatalogItem] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname != "Polozka":
            continue
        fields = _element_fields(element)
        code = _first(fields, _XC4_FIELDS["code"])
        if not code:
            continue
        system = _price_system(element)
        items.append(
            CatalogItem(
                catalog=catalog or _first(system, _SYSTEM_NAME_FIELDS) or "OTSKP",
                code=code.strip(),
                description=_clean(_first(fields, _XC4_FIELDS["description"])),
                unit=_first(fields, _XC4_FIELDS["unit"]) or None,
                reference_price=_positive(_first(fields, _XC4_FIELDS["price"])),
                valid_from=valid_from or _date(_first(system, _SYSTEM_DATE_FIELDS)),
                technical_spec=_first(fields, _XC4_FIELDS["spec"]) or None,
            )
        )
    return items


def _element_fields(element: Any) -> dict[str, str]:
    """Attributes and child-element texts of one element, keyed by lower-case local name."""
    fields = {etree.QName(name).localname.lower(): value.strip() for name, value in element.attrib.items()}
    for child in element:
        if isinstance(child.tag, str) and len(child) == 0:
            fields.setdefault(etree.QName(child).localname.lower(), (child.text or "").strip())
    return fields


def _price_system(element: Any) -> dict[str, str]:
    for ancestor in element.iterancestors():
        if isinstance(ancestor.tag, str) and etree.QName(ancestor).localname.lower() in {
            "cenovesoustavy",
            "cenovasoustava",
        }:
            return _element_fields(ancestor)
    return {}


_CSV_ALIASES = {
    "catalog": ("catalog", "katalog", "cenová soustava", "cenova soustava", "cenova_soustava"),
    "code": ("code", "kód", "kod", "znacka", "značka", "číslo položky"),
    "description": ("description", "popis", "nazev", "název", "název položky"),
    "unit": ("unit", "mj", "jednotka", "měrná jednotka"),
    "reference_price": ("reference_price", "price", "jedn_cena", "j.cena", "j.cena [czk]", "cena", "cena / mj"),
    "valid_from": ("valid_from", "platnost", "platnost od", "platnost_od"),
    "technical_spec": ("technical_spec", "technicka_specifikace", "technická specifikace"),
}


def _read_csv(data: bytes, *, catalog: str | None, valid_from: datetime.date | None) -> list[CatalogItem]:
    text = _decode(data)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if ";" in first_line else "\t" if "\t" in first_line else ","
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(rows, [])
    columns = _csv_columns(header)
    if "code" not in columns:
        raise CatalogFileError("The CSV has no code column; expected the columns " + ", ".join(CATALOG_COLUMNS) + ".")
    items: list[CatalogItem] = []
    for row in rows:
        cell = _row_reader(row, columns)
        code = cell("code")
        if not code:
            continue
        items.append(
            CatalogItem(
                catalog=cell("catalog") or catalog or "unknown",
                code=code,
                description=_clean(cell("description")),
                unit=cell("unit") or None,
                reference_price=_positive(cell("reference_price")),
                valid_from=_date(cell("valid_from")) or valid_from,
                technical_spec=cell("technical_spec") or None,
            )
        )
    return items


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1250", errors="replace")


def _csv_columns(header: Sequence[str]) -> dict[str, int]:
    names = [" ".join(name.split()).lower() for name in header]
    columns: dict[str, int] = {}
    for field, aliases in _CSV_ALIASES.items():
        for index, name in enumerate(names):
            if name in aliases:
                columns[field] = index
                break
    return columns


def _row_reader(row: Sequence[str], columns: Mapping[str, int]) -> Callable[[str], str]:
    def cell(field: str) -> str:
        index = columns.get(field)
        if index is None or index >= len(row):
            return ""
        return row[index].strip()

    return cell


def _first(fields: Mapping[str, str], names: Iterable[str]) -> str:
    for name in names:
        value = fields.get(name)
        if value:
            return value
    return ""


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_money(raw: str | None) -> Decimal | None:
    """Parse "1 234,50", "1234.50" or "1.234,50" into a Decimal; None when empty or not a number."""
    if raw is None:
        return None
    text = raw.replace("\xa0", "").replace(" ", "").strip()
    if not text:
        return None
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _positive(raw: str | None) -> Decimal | None:
    """A reference price; 0 means "not priced" (blank OTSKP exports) and becomes None."""
    value = parse_money(raw)
    return value if value is not None and value > 0 else None


_DATE_DMY = re.compile(r"(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})")


def _date(raw: str | None) -> datetime.date | None:
    if not raw:
        return None
    text = raw.strip()
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        pass
    match = _DATE_DMY.fullmatch(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
        try:
            return datetime.date(year, month, day)
        except ValueError:
            return None
    return None


# ------------------------------------------------------------------------------- exposure classes


class AirEntrainmentRule(msgspec.Struct, frozen=True, kw_only=True):
    """Exposure classes whose concrete must be air-entrained, and the minimum air content."""

    exposure_classes: tuple[str, ...]
    min_air_content_percent: Decimal
    source: str = ""


class ExposureTable(msgspec.Struct, frozen=True, kw_only=True):
    """Minimum strength class per exposure class (one standard's table) plus the air rule."""

    name: str
    title: str
    source: str
    minimum_strength: dict[str, str]
    air_entrainment: AirEntrainmentRule

    def minimum_for(self, exposure: str) -> str | None:
        """The minimum class label ("C30/37") for an exposure class, or None if the table has none."""
        return self.minimum_strength.get(exposure.upper())


class ExposureTableEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One table as stored in exposure_classes.json (the air rule is shared by all tables)."""

    title: str
    source: str
    minimum_strength: dict[str, str]


class ExposureTables(msgspec.Struct, frozen=True, kw_only=True):
    """All exposure tables of one reference-data version; ``table()`` picks one by name."""

    version: str
    default_table: str
    tables: dict[str, ExposureTableEntry]
    air_entrainment: AirEntrainmentRule
    kind: str = "exposure_classes"

    @property
    def names(self) -> list[str]:
        return sorted(self.tables)

    def table(self, name: str | None = None) -> ExposureTable:
        """The named table (default: the national one); raises ``KeyError`` for an unknown name."""
        key = name or self.default_table
        entry = self.tables[key]
        return ExposureTable(
            name=key,
            title=entry.title,
            source=entry.source,
            minimum_strength=dict(entry.minimum_strength),
            air_entrainment=self.air_entrainment,
        )


def read_exposure_tables(data: bytes) -> ExposureTables:
    """Decode and validate an ``exposure_classes.json`` document (shipped or replaced)."""
    tables = msgspec.json.decode(data, type=ExposureTables)
    if tables.default_table not in tables.tables:
        raise ValueError(f"default_table {tables.default_table!r} is not one of {tables.names}")
    return tables


@lru_cache(maxsize=1)
def load_exposure_tables() -> ExposureTables:
    """The shipped exposure tables (ČSN P 73 2404 by default, EN 206 Table F.1 as an alternative)."""
    return read_exposure_tables(_data(EXPOSURE_CLASSES_FILE))


def load_exposure_table(name: str | None = None) -> ExposureTable:
    """One shipped exposure table by name ("CSN_P_73_2404", "EN_206_F1"); default the national one."""
    return load_exposure_tables().table(name)


# ------------------------------------------------------------------------------------ price bands


class BandRecognition(msgspec.Struct, frozen=True, kw_only=True):
    """How a position is recognised as a band's kind (see ``recognition_rules`` in price_bands.json)."""

    code_patterns: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    keyword_code_shapes: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    item_types: tuple[str, ...] = ()
    exclude_item_types: tuple[str, ...] = ()


class PriceBand(msgspec.Struct, frozen=True, kw_only=True):
    """A plausible unit-price range for one kind of work (CZK excl. VAT per ``unit``)."""

    kind: str
    label: str
    unit: str
    min_price: Decimal
    max_price: Decimal
    recognise: BandRecognition
    source: str = ""

    def recognises(self, *, code: str | None, text: str, unit: str | None, item_type: str | None = None) -> bool:
        """Whether a position with this code, text, unit and item type (K/M) is of this band's kind."""
        rule = self.recognise
        if normalize_unit(unit) != normalize_unit(self.unit):
            return False
        kind = (item_type or "").strip().upper()
        if rule.item_types and kind not in rule.item_types:
            return False
        if kind and kind in rule.exclude_item_types:
            return False
        lowered = text.lower()
        if any(word in lowered for word in rule.exclude_keywords):
            return False
        key = normalize_code(code)
        if key and any(_pattern(pattern).match(key) for pattern in rule.code_patterns):
            return True
        if code_shape(code).value in rule.keyword_code_shapes:
            return any(word in lowered for word in rule.keywords)
        return False


class PriceBands(msgspec.Struct, frozen=True, kw_only=True):
    """One version of the price bands, in recognition order."""

    version: str
    currency: str
    bands: tuple[PriceBand, ...]
    vat: str = "excluded"
    year: int | None = None
    recognition_rules: str = ""
    kind: str = "price_bands"

    def band_for(
        self, *, code: str | None, text: str, unit: str | None, item_type: str | None = None
    ) -> PriceBand | None:
        """The first band that recognises the position, if any."""
        return find_band(self.bands, code=code, text=text, unit=unit, item_type=item_type)


def find_band(
    bands: Sequence[PriceBand], *, code: str | None, text: str, unit: str | None, item_type: str | None = None
) -> PriceBand | None:
    """The first of ``bands`` that recognises the position, if any."""
    for band in bands:
        if band.recognises(code=code, text=text, unit=unit, item_type=item_type):
            return band
    return None


def read_price_bands(data: bytes) -> PriceBands:
    """Decode and validate a ``price_bands.json`` document (shipped or replaced)."""
    bands = msgspec.json.decode(data, type=PriceBands)
    for band in bands.bands:
        if band.min_price <= 0 or band.max_price < band.min_price:
            raise ValueError(f"price band {band.kind!r} has an empty or negative range")
        for pattern in band.recognise.code_patterns:
            _pattern(pattern)
    return bands


@lru_cache(maxsize=1)
def load_price_bands() -> PriceBands:
    """The shipped 2025 price bands (in-place concrete, OTSKP concrete, reinforcement, ready-mix)."""
    return read_price_bands(_data(PRICE_BANDS_FILE))


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _data(name: str) -> bytes:
    return resources.files(DATA_PACKAGE).joinpath("data", name).read_bytes()
