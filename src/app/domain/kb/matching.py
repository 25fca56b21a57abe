"""Enrichment: matching a budget position to a catalogue item, with a score and the reasons for it.

Rules, first hit wins (DOMAIN.md "Enrichment"):
  exact code → 1.0; concrete class + exposure found in the text and an item with the same
  class/exposure → 0.95; concrete class only, with the same unit → 0.75; fuzzy description match
  with the same unit (top 3) → the similarity; else no match.
Fuzzy candidates come from the knowledge base (its trigram index of the catalogue) in production and
are injected as a callable; ``TrigramSearch`` computes pg_trgm's similarity in Python (that index is
built of it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

import msgspec

from app.domain.audits.concrete_text import ConcreteSpec, StrengthClass, read_concrete_spec
from app.domain.kb.codes import normalize_code
from app.domain.kb.reference import CatalogIndex, CatalogItem
from app.domain.kb.units import normalize_unit

EXACT_CODE_SCORE = 1.0
CLASS_AND_EXPOSURE_SCORE = 0.95
CLASS_AND_UNIT_SCORE = 0.75
FUZZY_THRESHOLD = 0.3  # pg_trgm's default similarity_threshold
TOP_CANDIDATES = 3

FuzzyCandidates = Callable[[str, str | None], list[tuple[CatalogItem, float]]]
"""(description, unit or None) → catalogue items with their similarity 0–1, best first."""


class MatchablePosition(Protocol):
    """What matching reads from a position (``PositionRecord`` and ``AuditPosition`` both fit)."""

    @property
    def code(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def full_description(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...


class MatchCandidate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A catalogue item proposed for a position, with the score of the rule that proposed it."""

    code: str
    catalog: str
    description: str
    unit: str | None
    score: float
    reference_price: Decimal | None = None

    @classmethod
    def of(cls, item: CatalogItem, score: float) -> MatchCandidate:
        return cls(
            code=item.code,
            catalog=item.catalog,
            description=item.description,
            unit=item.unit,
            score=round(score, 4),
            reference_price=item.reference_price,
        )


class EnrichmentMatch(msgspec.Struct, kw_only=True):
    """What is stored in ``positions.enrichment``: the match (or None), its score, why, and the runners-up.

    ``evidence["rule"]`` names the rule that decided: exact_code, concrete_class_exposure,
    concrete_class_unit, fuzzy_description or none.
    """

    match: MatchCandidate | None
    score: float
    evidence: dict[str, Any] = msgspec.field(default_factory=dict)
    candidates: list[MatchCandidate] = msgspec.field(default_factory=list)


# ------------------------------------------------------------------------------ trigram similarity

_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=65536)
def trigrams(text: str, fold_accents: bool = False) -> frozenset[str]:
    """pg_trgm's trigrams: lower-cased alphanumeric words, padded "  word ", cut into 3-grams."""
    lowered = text.lower()
    if fold_accents:
        lowered = _fold(lowered)
    grams: set[str] = set()
    for word in _WORD.findall(lowered):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def similarity(a: str, b: str, *, fold_accents: bool = False) -> float:
    """pg_trgm ``similarity(a, b)``: shared trigrams / all distinct trigrams of both."""
    ta, tb = trigrams(a, fold_accents), trigrams(b, fold_accents)
    if not ta or not tb:
        return 0.0
    shared = len(ta & tb)
    return shared / (len(ta) + len(tb) - shared)


_ACCENTS = str.maketrans(
    "áäčďéěëíľĺňóôöŕřšťúůüýžÁÄČĎÉĚËÍĽĹŇÓÔÖŔŘŠŤÚŮÜÝŽ", "aacdeeeillnooorrstuuuyzAACDEEEILLNOOORRSTUUUYZ"
)


def _fold(text: str) -> str:
    return text.translate(_ACCENTS)


class TrigramSearch:
    """In-memory stand-in for ``ORDER BY similarity(description, :q) DESC`` over the catalogue.

    Indexes trigram → items once; a query only scores items sharing at least one trigram. Set
    ``fold_accents`` to also ignore diacritics (like pg_trgm over ``unaccent``).
    """

    def __init__(
        self, items: Iterable[CatalogItem], *, fold_accents: bool = False, threshold: float = FUZZY_THRESHOLD
    ) -> None:
        self._items = list(items)
        self._fold = fold_accents
        self._threshold = threshold
        self._grams = [trigrams(item.description, fold_accents) for item in self._items]
        self._units = [normalize_unit(item.unit) for item in self._items]
        postings: dict[str, list[int]] = {}
        for index, grams in enumerate(self._grams):
            for gram in grams:
                postings.setdefault(gram, []).append(index)
        self._postings = postings

    def __call__(self, text: str, unit: str | None) -> list[tuple[CatalogItem, float]]:
        return self.search(text, unit)

    def search(self, text: str, unit: str | None, limit: int = 10) -> list[tuple[CatalogItem, float]]:
        """Items at or above the threshold, best first (ties by code); only ``unit``'s items if given."""
        query = trigrams(text, self._fold)
        if not query:
            return []
        wanted_unit = normalize_unit(unit)
        shared: Counter[int] = Counter()
        for gram in query:
            shared.update(self._postings.get(gram, ()))
        scored: list[tuple[float, str, int]] = []
        for index, common in shared.items():
            if wanted_unit and self._units[index] != wanted_unit:
                continue
            score = common / (len(query) + len(self._grams[index]) - common)
            if score >= self._threshold:
                scored.append((-score, normalize_code(self._items[index].code), index))
        scored.sort()
        return [(self._items[index], -negative) for negative, _, index in scored[:limit]]


def default_fuzzy_candidates(index: CatalogIndex) -> FuzzyCandidates:
    """The pure-Python fuzzy search over ``index`` (built once per index and kept with it)."""
    return index.derived("trigram_search", lambda catalog: TrigramSearch(catalog.values()))


# ----------------------------------------------------------------------------------- the matching


class _ConcreteItems:
    """Catalogue items that name a concrete class, grouped by class label."""

    def __init__(self, index: CatalogIndex) -> None:
        by_class: dict[str, list[tuple[CatalogItem, ConcreteSpec]]] = {}
        for item in index.values():
            spec = read_concrete_spec(item.description)
            for strength in spec.strength_classes:
                by_class.setdefault(strength.label, []).append((item, spec))
        self.by_class = by_class


def _concrete_items(index: CatalogIndex) -> _ConcreteItems:
    return index.derived("concrete_items", _ConcreteItems)


def match_position(
    position: MatchablePosition,
    catalog: CatalogIndex,
    fuzzy_candidates: FuzzyCandidates | None = None,
    *,
    threshold: float = FUZZY_THRESHOLD,
) -> EnrichmentMatch:
    """Match one position to the catalogue by the rules above; deterministic for the same input."""
    description = position.description or ""
    text = " ".join(part for part in (description, position.full_description) if part)
    unit = normalize_unit(position.unit)

    code = normalize_code(position.code)
    if code and code in catalog:
        item = catalog[code]
        candidate = MatchCandidate.of(item, EXACT_CODE_SCORE)
        evidence: dict[str, Any] = {
            "rule": "exact_code",
            "code": item.code,
            "unit_matches": bool(unit) and unit == normalize_unit(item.unit),
        }
        return EnrichmentMatch(match=candidate, score=EXACT_CODE_SCORE, evidence=evidence, candidates=[candidate])

    spec = read_concrete_spec(text) if text else ConcreteSpec()
    if spec.strength_classes:
        found = _match_concrete(spec, unit, description, catalog)
        if found is not None:
            return found

    search = fuzzy_candidates or default_fuzzy_candidates(catalog)
    scored = [
        (item, float(score))
        for item, score in search(description, position.unit or None)
        if not unit or normalize_unit(item.unit) == unit
    ]
    scored.sort(key=lambda pair: (-pair[1], normalize_code(pair[0].code)))
    top = [MatchCandidate.of(item, score) for item, score in scored[:TOP_CANDIDATES]]
    if top and top[0].score >= threshold:
        return EnrichmentMatch(
            match=top[0],
            score=top[0].score,
            evidence={"rule": "fuzzy_description", "similarity": top[0].score, "unit": unit or None},
            candidates=top,
        )
    return EnrichmentMatch(
        match=None,
        score=0.0,
        evidence={"rule": "none", "code_known": False, "unit": unit or None},
        candidates=top,
    )


def match_positions(
    positions: Sequence[MatchablePosition],
    catalog: CatalogIndex,
    fuzzy_candidates: FuzzyCandidates | None = None,
) -> list[EnrichmentMatch]:
    """``match_position`` for a whole budget, in order."""
    search = fuzzy_candidates or default_fuzzy_candidates(catalog)
    return [match_position(position, catalog, search) for position in positions]


def _match_concrete(spec: ConcreteSpec, unit: str, description: str, catalog: CatalogIndex) -> EnrichmentMatch | None:
    concrete = _concrete_items(catalog)
    classes = [strength.label for strength in spec.strength_classes]
    pool = [pair for label in classes for pair in concrete.by_class.get(label, ())]
    unit_fits = [(item, s) for item, s in pool if not unit or normalize_unit(item.unit) == unit]

    if spec.exposure_classes:
        wanted = set(spec.exposure_classes)
        same = [(item, s) for item, s in unit_fits if s.exposure_classes and wanted <= set(s.exposure_classes)]
        if same:
            ranked = _rank(same, description, exact=wanted)
            return _concrete_match(ranked, CLASS_AND_EXPOSURE_SCORE, "concrete_class_exposure", spec, unit)

    if unit:
        ranked = _rank(unit_fits, description, exact=None)
        if ranked:
            return _concrete_match(ranked, CLASS_AND_UNIT_SCORE, "concrete_class_unit", spec, unit)
    return None


def _rank(
    pairs: list[tuple[CatalogItem, ConcreteSpec]], description: str, *, exact: set[str] | None
) -> list[CatalogItem]:
    """Best first: identical exposure set, then text similarity, then code (stable and deterministic)."""
    unique = {normalize_code(item.code): (item, spec) for item, spec in pairs}
    return [
        item
        for item, _ in sorted(
            unique.values(),
            key=lambda pair: (
                exact is not None and set(pair[1].exposure_classes) != exact,
                -similarity(description, pair[0].description),
                normalize_code(pair[0].code),
            ),
        )
    ]


def _concrete_match(
    ranked: list[CatalogItem], score: float, rule: str, spec: ConcreteSpec, unit: str
) -> EnrichmentMatch:
    top = [MatchCandidate.of(item, score) for item in ranked[:TOP_CANDIDATES]]
    strength: StrengthClass | None = spec.weakest_class
    return EnrichmentMatch(
        match=top[0],
        score=score,
        evidence={
            "rule": rule,
            "strength_class": strength.label if strength else None,
            "exposure_classes": list(spec.exposure_classes),
            "unit": unit or None,
        },
        candidates=top,
    )
