"""The assistant's read of one budget version: plain rows, and selecting them by an intent's scope.

Pure: the service loads the rows with one query; everything here filters and adds them up without
a database, so the rules are unit-tested and every figure can be traced to the rows it came from.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.domain.chat.intents import Intent
from app.domain.chat.language import fold, word_matches, words

_OBJECT_KEY = re.compile(r"([a-z]+)\s*[-.:#]?\s*0*(\d+)((?:[./-]0*\d+)*)([a-z]?)")
_CLASS_SPACE = re.compile(r"\bc\s+(\d{1,3}/\d{1,3})")


@functools.lru_cache(maxsize=32_768)
def description_words(description: str) -> tuple[str, ...]:
    """Searchable words of a description (cached: versions of a budget share most descriptions)."""
    return tuple(words(search_text(description)))


@functools.lru_cache(maxsize=131_072)
def description_has(term: str, description: str) -> bool:
    """Whether a form of the search stem is a word of the description (cached: asked of every row)."""
    return any(word_matches(term, word) for word in description_words(description))


def search_text(text: str | None) -> str:
    """Folded text as searched: "C 30/37" and "C30/37" read alike."""
    return _CLASS_SPACE.sub(r"c\1", fold(text or ""))


def object_key(code: str) -> str:
    """ "SO 01" → "so1", "so 201" → "so201", "SO 01.1" → "so1.1": leading zeros and spaces do not matter."""
    match = _OBJECT_KEY.search(fold(code))
    if match is None:
        return fold(code).replace(" ", "")
    tail = re.sub(r"([./-])0*(\d)", r"\1\2", match.group(3))
    return f"{match.group(1)}{match.group(2)}{tail}{match.group(4)}"


@functools.lru_cache(maxsize=4_096)
def object_keys(path: str | None) -> frozenset[str]:
    """Every object a position is in: "SO 01/SO 01.1" is in SO 01 and in SO 01.1."""
    if not path:
        return frozenset()
    return frozenset(object_key(part) for part in path.split("/") if part.strip())


@dataclass(slots=True)
class PositionRow:
    """One position of the version, as the assistant reads and cites it."""

    id: uuid.UUID
    lineage_id: uuid.UUID
    position_number: str | None
    code: str | None
    description: str
    category: str | None
    object_code: str | None
    unit: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    total_price: Decimal | None
    status: str | None
    object_name: str | None = None

    @property
    def words(self) -> tuple[str, ...]:
        return description_words(self.description)

    @property
    def objects(self) -> frozenset[str]:
        return object_keys(self.object_code)

    def matches_terms(self, terms: Sequence[str]) -> bool:
        """Every term is a form of some word of the description."""
        return all(description_has(term, self.description) for term in terms)

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.code, self.description) if part)


def category_matches(category: str | None, wanted: str) -> bool:
    """ "1" or "zemni prace" finds "1 - Zemní práce"; "hsv" finds "HSV - Práce a dodávky HSV"."""
    if not category:
        return False
    folded = search_text(category)
    if folded == wanted or folded.startswith((f"{wanted} ", f"{wanted}-", f"{wanted}.")):
        return True
    if len(wanted) >= 3 and wanted in folded:
        return True
    stems = words(wanted)
    category_words = words(folded)
    return bool(stems) and all(any(word_matches(s, w) for w in category_words) for s in stems if len(s) >= 3)


def names_category(category: str | None, terms: Sequence[str]) -> bool:
    """Whether the search terms are the section's name ("zemn prac" ↔ "1 - Zemní práce", "hsv" ↔ "HSV"):
    every term is a word of the name and every word of the name is a term, so "beton" does not take
    the section "Betonové konstrukce" for itself."""
    if not category or not terms:
        return False
    section_words = name_words(category)
    return (
        bool(section_words)
        and all(any(word_matches(t, w) for w in section_words) for t in terms)
        and all(any(word_matches(t, w) for t in terms) for w in section_words)
    )


def name_words(name: str | None) -> list[str]:
    """Words of a section's or object's name that can be asked for (no numbers, no short words)."""
    return [w for w in words(search_text(name)) if len(w) >= 3 and not w.isdigit()]


def names_object(name: str | None, terms: Sequence[str], *, whole: bool) -> bool:
    """Whether the search terms are an object's name ("garaz" ↔ "Garáž"): every term is a word of the
    name; with `whole`, every word of the name is also a term (as for sections)."""
    if not terms:
        return False
    name_words_ = name_words(name)
    return (
        bool(name_words_)
        and all(any(word_matches(t, w) for w in name_words_) for t in terms)
        and (not whole or all(any(word_matches(t, w) for t in terms) for w in name_words_))
    )


def objects_named(rows: Iterable[PositionRow], terms: Sequence[str], *, whole: bool) -> dict[str, tuple[str, str]]:
    """{object key: (object code, object name)} of the objects the terms name. A row's name is the
    name of the innermost object of its path ("SO 01/SO 01.1" → SO 01.1)."""
    named: dict[str, tuple[str, str]] = {}
    for row in rows:
        if not row.object_code or not row.object_name:
            continue
        code = row.object_code.split("/")[-1].strip()
        key = object_key(code)
        if key not in named and names_object(row.object_name, terms, whole=whole):
            named[key] = (code, row.object_name)
    return named


@dataclass
class Selection:
    """Rows an intent's scope selects, and how the scope is named in the answer and its context."""

    rows: list[PositionRow]
    # what selected them, in the words of the answer: object_code, category, code, position_number, text, terms
    filters: dict[str, object]


def select(rows: Iterable[PositionRow], intent: Intent, *, terms: Sequence[str] | None = None) -> Selection:
    """Rows within the intent's object, section, code, statuses and search terms (all must hold)."""
    selected = list(rows)
    filters: dict[str, object] = {}
    if intent.object_code:
        key = object_key(intent.object_code)
        selected = [row for row in selected if key in row.objects]
        filters["object_code"] = intent.object_code
    if intent.category:
        wanted_category = intent.category
        matching = {c for c in {row.category for row in selected} if category_matches(c, wanted_category)}
        selected = [row for row in selected if row.category in matching]
        filters["category"] = intent.category
    if intent.code:
        wanted = intent.code.upper()
        selected = [row for row in selected if (row.code or "").upper() == wanted]
        filters["code"] = intent.code
    if intent.position_number:
        selected = [row for row in selected if (row.position_number or "").strip() == intent.position_number]
        filters["position_number"] = intent.position_number
    if intent.text:
        wanted_text = " ".join(words(search_text(intent.text)))
        selected = [row for row in selected if wanted_text in " ".join(row.words)]
        filters["text"] = intent.text
    search_terms = list(intent.terms if terms is None else terms)
    if search_terms and not intent.category:
        # Words that name an object select the whole object: after its code they may be part of its
        # name ("SO 2 Garáž"); alone they must be its whole name ("garáž", "the garage").
        named_objects = objects_named(selected, search_terms, whole=not intent.object_code)
        if named_objects:
            selected = [row for row in selected if row.objects & named_objects.keys()]
            found = sorted(set(named_objects.values()))
            if not intent.object_code:
                filters["object_code"] = ", ".join(code for code, _ in found[:3])
            filters["object_name"] = ", ".join(sorted({name for _, name in found})[:3])
            search_terms = []
    if search_terms:
        # Words that name a section ("zemní práce", "HSV") select that section, not descriptions.
        named = (
            set() if intent.category else {c for c in {r.category for r in selected} if names_category(c, search_terms)}
        )
        in_category = [row for row in selected if row.category in named]
        if in_category:
            names = sorted({row.category for row in in_category if row.category})
            selected = in_category
            filters["category"] = ", ".join(names[:3])
        else:
            selected = [row for row in selected if row.matches_terms(search_terms)]
            filters["terms"] = search_terms
            filters["words"] = intent.shown(search_terms)
    return Selection(rows=selected, filters=filters)


def total_of(rows: Iterable[PositionRow]) -> Decimal:
    return sum((row.total_price for row in rows if row.total_price is not None), Decimal("0"))


def by_cost(rows: Iterable[PositionRow], *, descending: bool = True) -> list[PositionRow]:
    priced = [row for row in rows if row.total_price is not None]
    return sorted(priced, key=lambda row: row.total_price or Decimal(0), reverse=descending)


def normal_unit(unit: str | None) -> str:
    """Units as compared: case folded, "m³" → "m3", "tuna" → "t", "kus" → "ks"."""
    folded = fold(unit or "").replace("³", "3").replace("²", "2").strip(". ")
    return {"tuna": "t", "tun": "t", "kus": "ks", "bm": "m", "m'": "m"}.get(folded, folded)


# Masses are added up in kilograms; other units only with themselves.
_TO_KG = {"t": Decimal(1000), "kg": Decimal(1)}


def quantities_by_unit(rows: Iterable[PositionRow]) -> dict[str, tuple[Decimal, int]]:
    """{unit: (sum of quantities, positions)} over rows that have a quantity."""
    sums: dict[str, tuple[Decimal, int]] = {}
    for row in rows:
        if row.quantity is None:
            continue
        unit = normal_unit(row.unit) or "?"
        total, count = sums.get(unit, (Decimal(0), 0))
        sums[unit] = (total + row.quantity, count + 1)
    return sums


def quantity_in(rows: Iterable[PositionRow], unit: str) -> tuple[Decimal, int, str]:
    """Sum of quantities in `unit` (t and kg convert into each other); (sum, positions, unit)."""
    total, count = Decimal(0), 0
    target = normal_unit(unit)
    for row_unit, (amount, n) in quantities_by_unit(rows).items():
        if row_unit == target:
            total, count = total + amount, count + n
        elif row_unit in _TO_KG and target in _TO_KG:
            total, count = total + amount * _TO_KG[row_unit] / _TO_KG[target], count + n
    return total, count, target


def duplicates(rows: Sequence[PositionRow]) -> list[PositionRow]:
    """Positions with the same code, description and object as another (the audit's duplicate rule)."""
    seen: dict[tuple[str, str, frozenset[str]], list[PositionRow]] = {}
    for row in rows:
        key = ((row.code or "").upper(), " ".join(row.words), row.objects)
        seen.setdefault(key, []).append(row)
    return [row for group in seen.values() if len(group) > 1 for row in group]


def apply_filter(rows: Sequence[PositionRow], name: str | None) -> list[PositionRow]:
    if name == "unpriced":
        return [row for row in rows if not row.unit_price]
    if name == "no_quantity":
        return [row for row in rows if not row.quantity]
    if name == "no_code":
        return [row for row in rows if not (row.code or "").strip()]
    if name == "duplicates":
        return duplicates(rows)
    return list(rows)
