"""The knowledge base over PostgreSQL: catalogue, prices and standards, every look-up through the cache.

PUBLIC for other domains (enrichment, audit, chat):

    knowledge = KnowledgeBase(engine, redis)                 # redis=None: PostgreSQL only
    await knowledge.catalog_items(codes)       -> {code: [CatalogItem, ...]}   # one query for all codes
    await knowledge.audit_catalog(positions)   -> CatalogIndex  # the codes of a budget, their chapters,
                                                               # and the families of the whole catalogue
    await knowledge.enrichment_catalog(positions) -> CatalogIndex  # the budget's codes + concrete items
    await knowledge.fuzzy_candidates([(text, unit), ...]) -> {(text, unit_key): [(CatalogItem, score)]}
    await knowledge.reference_data()           -> ReferenceData (exposure tables, price bands)
    await knowledge.search(type, q, limit=, offset=) -> KBSearchPage

Item identity (code look-ups, 30 days) and reference prices (price look-ups, 1 day) are cached apart
and merged here. The shipped data is loaded on first use when the tables are empty (see loader).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.audits.concrete_text import EXPOSURE_CLASSES, StrengthClass, read_concrete_spec
from app.domain.kb.cache import KnowledgeCache
from app.domain.kb.codes import base_code, code_family, code_shape, normalize_code
from app.domain.kb.loader import EXPOSURE_CLASSES as EXPOSURE_KIND
from app.domain.kb.loader import PRICE_BANDS as PRICE_BANDS_KIND
from app.domain.kb.loader import ensure_reference_data
from app.domain.kb.matching import FUZZY_THRESHOLD, TOP_CANDIDATES, MatchablePosition, TrigramSearch
from app.domain.kb.reference import (
    CatalogIndex,
    CatalogItem,
    ExposureTable,
    ExposureTables,
    PriceBands,
    load_exposure_tables,
    load_price_bands,
)
from app.domain.kb.schemas import KBHit, KBSearchPage, SearchType
from app.domain.kb.units import normalize_unit

SEARCH_RESULT_CAP = 200
CHAPTER_ITEM_CAP = 500
# How many leading characters of an unknown code name its chapter (the neighbours' search space).
CHAPTER_PREFIX = {"urs": 6, "otskp": 4, "rts": 5}

_ITEM_COLUMNS = "catalog, code, description, unit, valid_from"
_ITEMS_BY_CODE = text(f"SELECT {_ITEM_COLUMNS} FROM catalog_items WHERE code = ANY(CAST(:codes AS text[]))")
_PRICES_BY_CODE = text(
    "SELECT catalog, code, valid_from, reference_price FROM catalog_items WHERE code = ANY(CAST(:codes AS text[]))"
)
_CHAPTER_ITEMS = text(
    f"""
    SELECT p.prefix, c.catalog, c.code, c.description, c.unit, c.valid_from
    FROM unnest(CAST(:prefixes AS text[])) AS p(prefix)
    CROSS JOIN LATERAL (
        SELECT {_ITEM_COLUMNS} FROM catalog_items
        WHERE code LIKE p.prefix || '%' ORDER BY code LIMIT {CHAPTER_ITEM_CAP}
    ) AS c
    """
)
_FAMILIES = text(
    "SELECT DISTINCT metadata->>'family' FROM catalog_items WHERE metadata->>'family' IS NOT NULL ORDER BY 1"
)
_CONCRETE_ITEMS = text(
    f"""
    SELECT {_ITEM_COLUMNS}, reference_price FROM catalog_items
    WHERE description ~* 'c\\s?[0-9]{{1,3}}\\s?/\\s?[0-9]{{2,3}}' ORDER BY code
    """
)
# The whole catalogue, for the in-process fuzzy index (see `FuzzyIndex`), and what says it changed.
_ALL_ITEMS = text(f"SELECT {_ITEM_COLUMNS}, reference_price FROM catalog_items ORDER BY catalog, code, valid_from")
_CATALOG_VERSION = text("SELECT count(*), max(updated_at), max(created_at) FROM catalog_items")
# pg_trgm's default, set for the session so that a server configured otherwise still matches the rules.
_SET_THRESHOLD = text("SELECT set_config('pg_trgm.similarity_threshold', :threshold, false)")
_REFERENCE_SET = text(
    """
    SELECT DISTINCT ON (kind) kind, version, data FROM reference_sets
    WHERE kind = :kind ORDER BY kind, updated_at DESC, version DESC
    """
)
_SEARCH_BY_CODE = text(
    f"""
    SELECT {_ITEM_COLUMNS}, reference_price FROM catalog_items
    WHERE code LIKE :prefix ORDER BY length(code), code, valid_from DESC LIMIT {SEARCH_RESULT_CAP}
    """
)
_SEARCH_BY_TEXT = text(
    f"""
    SELECT {_ITEM_COLUMNS}, reference_price, word_similarity(:q, description) AS score
    FROM catalog_items WHERE :q <% description
    ORDER BY score DESC, similarity(:q, description) DESC, code LIMIT {SEARCH_RESULT_CAP}
    """
)
_SEARCH_PRICED = text(
    f"""
    SELECT {_ITEM_COLUMNS}, reference_price,
           CASE WHEN code LIKE :prefix THEN 1.0 ELSE word_similarity(:q, description) END AS score
    FROM catalog_items
    WHERE reference_price IS NOT NULL AND (code LIKE :prefix OR :q <% description)
    ORDER BY score DESC, code, valid_from DESC LIMIT {SEARCH_RESULT_CAP}
    """
)


class FuzzyIndex:
    """pg_trgm's `similarity` search over the whole catalogue, in this process, one index per unit.

    Why not pg_trgm in PostgreSQL: `description % :query` recomputes the trigrams of every candidate
    row for every query (a LATERAL query took ~30 ms per description on the shipped 574 items, 17 s
    for a 2,000-position budget). Here each catalogue description is cut into trigrams once, and a
    query only scores the items of its unit that share a trigram with it (`TrigramSearch`, which
    computes exactly pg_trgm's similarity). Built once per process and catalogue version.
    """

    def __init__(self, items: Sequence[CatalogItem]) -> None:
        self.items = list(items)
        self._by_unit: dict[str, TrigramSearch] = {}

    def search(self, description: str, unit_key: str) -> list[tuple[CatalogItem, float]]:
        """The TOP_CANDIDATES best items at or above FUZZY_THRESHOLD (all units when `unit_key` is '')."""
        search = self._by_unit.get(unit_key)
        if search is None:
            pool = [item for item in self.items if not unit_key or normalize_unit(item.unit) == unit_key]
            search = self._by_unit[unit_key] = TrigramSearch(pool, threshold=FUZZY_THRESHOLD)
        return search.search(description, None, limit=TOP_CANDIDATES)


# (database, catalogue version) → index; one entry per database (tests use several).
_fuzzy_indexes: dict[str, tuple[Any, FuzzyIndex]] = {}


async def fuzzy_index(conn: AsyncConnection) -> FuzzyIndex:
    """This process's fuzzy index of the catalogue in `conn`'s database, rebuilt when the catalogue changed."""
    version = tuple((await conn.execute(_CATALOG_VERSION)).one())
    database = str(conn.engine.url)
    known = _fuzzy_indexes.get(database)
    if known is not None and known[0] == version:
        return known[1]
    index = FuzzyIndex([_item(row) for row in (await conn.execute(_ALL_ITEMS)).all()])
    _fuzzy_indexes[database] = (version, index)
    return index


def _to_items(result: Any) -> list[CatalogItem]:
    return msgspec.convert(result or [], list[CatalogItem])


def _item(row: Any) -> CatalogItem:
    mapping = row._mapping
    return CatalogItem(
        catalog=mapping["catalog"],
        code=mapping["code"],
        description=mapping["description"],
        unit=mapping["unit"],
        reference_price=mapping.get("reference_price"),
        valid_from=mapping["valid_from"],
    )


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ReferenceCatalogIndex(CatalogIndex):
    """The catalogue items one budget needs, knowing which families the WHOLE catalogue holds.

    The standards expert tells "unknown code" (RED) from "catalogue not loaded" (AMBER) by the families;
    an index of only the budget's codes would otherwise think a catalogue missing.
    """

    def __init__(self, items: Iterable[CatalogItem], families: Iterable[str]) -> None:
        super().__init__(items)
        self._catalog_families = frozenset(families) | super().families

    @property
    def families(self) -> frozenset[str]:
        return self._catalog_families


@dataclass(frozen=True)
class ReferenceData:
    """The active versions of the reference tables (the last one loaded of each kind)."""

    exposure_tables: ExposureTables
    price_bands: PriceBands
    versions: dict[str, str]


class KnowledgeBase:
    """Catalogue, prices and standards from PostgreSQL, answered through ``KnowledgeCache``."""

    def __init__(self, engine: AsyncEngine, redis: Redis | None, *, cache: KnowledgeCache | None = None) -> None:
        self.engine = engine
        self.redis = redis
        self.cache = cache or KnowledgeCache(engine, redis)

    async def ensure_loaded(self) -> None:
        """The shipped reference data when the tables are empty (a fresh installation)."""
        await ensure_reference_data(self.engine, redis=self.redis)

    # ------------------------------------------------------------------------------------ codes

    async def catalog_items(self, codes: Iterable[str | None]) -> dict[str, list[CatalogItem]]:
        """All catalogue items (every catalogue and validity date) of each code, keyed by normalised code."""
        keys = sorted({key for code in codes if (key := normalize_code(code))})
        if not keys:
            return {}
        await self.ensure_loaded()
        identities = await self.cache.get_many("code", [f"item:{key}" for key in keys], _load_items_by_code)
        prices = await self.cache.get_many("price", [f"item:{key}" for key in keys], _load_prices_by_code)
        found: dict[str, list[CatalogItem]] = {}
        for key in keys:
            price_of = {
                (entry["catalog"], entry["valid_from"]): entry["reference_price"]
                for entry in prices[f"item:{key}"].result or []
            }
            items = []
            for item in _to_items(identities[f"item:{key}"].result):
                price = price_of.get((item.catalog, item.valid_from.isoformat() if item.valid_from else None))
                items.append(msgspec.structs.replace(item, reference_price=Decimal(price) if price else None))
            if items:
                found[key] = items
        return found

    async def chapter_items(self, prefixes: Iterable[str]) -> list[CatalogItem]:
        """Items whose code starts with one of ``prefixes`` (at most CHAPTER_ITEM_CAP per prefix)."""
        wanted = sorted(set(prefixes))
        if not wanted:
            return []
        await self.ensure_loaded()
        answers = await self.cache.get_many("code", [f"chapter:{prefix}" for prefix in wanted], _load_chapters)
        items: list[CatalogItem] = []
        for answer in answers.values():
            items.extend(_to_items(answer.result))
        return items

    async def families(self) -> frozenset[str]:
        """Catalogue families ("urs", "otskp", "rts") with at least one item in the database."""
        await self.ensure_loaded()
        answer = await self.cache.get("catalog", "families", _load_families)
        return frozenset(answer.result or [])

    async def audit_catalog(self, positions: Sequence[MatchablePosition]) -> ReferenceCatalogIndex:
        """What the audit needs of the catalogue for these positions, in a few batched look-ups.

        The items of every code (and of the base code of manufacturer variants), the chapters of codes
        the catalogue does not know (the standards expert proposes neighbours from them), and the
        families of the whole catalogue.
        """
        codes = {normalize_code(p.code) for p in positions if p.code}
        codes.discard("")
        wanted = codes | {base for code in codes if (base := base_code(code))}
        found = await self.catalog_items(wanted)
        chapters = set()
        for code in codes:
            family = code_family(code)
            if code in found or family is None or (base_code(code) or "") in found:
                continue
            chapters.add(code[: CHAPTER_PREFIX[family]])
        items = [item for items in found.values() for item in items]
        items += await self.chapter_items(chapters)
        return ReferenceCatalogIndex(items, await self.families())

    async def enrichment_catalog(self, positions: Sequence[MatchablePosition]) -> CatalogIndex:
        """The items of the budget's codes plus every item naming a concrete class (matching's rules 1–3)."""
        await self.ensure_loaded()
        found = await self.catalog_items(p.code for p in positions)
        concrete = await self.cache.get("catalog", "concrete-items", _load_concrete_items)
        items = _to_items(concrete.result) + [item for items in found.values() for item in items]
        return CatalogIndex(items)

    async def fuzzy_candidates(
        self, requests: Iterable[tuple[str, str | None]]
    ) -> dict[tuple[str, str], list[tuple[CatalogItem, float]]]:
        """The top candidates (pg_trgm similarity ≥ 0.3, same unit) for many (description, unit) pairs.

        Keyed by (description, canonical unit). What the cache does not hold is searched in the
        process's trigram index of the whole catalogue (`fuzzy_index`): no query per description.
        """
        keys = sorted({(description, normalize_unit(unit)) for description, unit in requests if description.strip()})
        if not keys:
            return {}
        await self.ensure_loaded()
        query_of = {key: f"fuzzy:{key[1]}\x1f{key[0]}" for key in keys}
        key_of = {query: key for key, query in query_of.items()}

        async def load(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
            index = await fuzzy_index(conn)
            results: dict[str, tuple[Any, list[Any]]] = {}
            for query in queries:
                description, unit_key = key_of[query]
                found = index.search(description, unit_key)
                results[query] = (
                    [[msgspec.to_builtins(item), round(score, 4)] for item, score in found],
                    ["catalog_items"],
                )
            return results

        answers = await self.cache.get_many("catalog", list(query_of.values()), load)
        found: dict[tuple[str, str], list[tuple[CatalogItem, float]]] = {}
        for key in keys:
            pairs = answers[query_of[key]].result or []
            found[key] = [(msgspec.convert(item, CatalogItem), float(score)) for item, score in pairs]
        return found

    # ------------------------------------------------------------------------------ reference sets

    async def reference_data(self) -> ReferenceData:
        """The active exposure tables (a "standard" look-up) and price bands (a "price" look-up)."""
        await self.ensure_loaded()
        exposure = await self.cache.get(
            "standard", f"reference-set:{EXPOSURE_KIND}", _reference_set_loader(EXPOSURE_KIND)
        )
        bands = await self.cache.get(
            "price", f"reference-set:{PRICE_BANDS_KIND}", _reference_set_loader(PRICE_BANDS_KIND)
        )
        if exposure.result:
            exposure_tables = msgspec.convert(exposure.result["data"], ExposureTables)
            exposure_version = str(exposure.result["version"])
        else:
            exposure_tables = load_exposure_tables()
            exposure_version = f"{exposure_tables.version} (shipped file)"
        if bands.result:
            price_bands = msgspec.convert(bands.result["data"], PriceBands)
            bands_version = str(bands.result["version"])
        else:
            price_bands = load_price_bands()
            bands_version = f"{price_bands.version} (shipped file)"
        return ReferenceData(
            exposure_tables=exposure_tables,
            price_bands=price_bands,
            versions={EXPOSURE_KIND: exposure_version, PRICE_BANDS_KIND: bands_version},
        )

    # ------------------------------------------------------------------------------------- search

    async def search(self, search_type: SearchType, query: str, *, limit: int, offset: int) -> KBSearchPage:
        """``GET /api/kb/search``: the whole result (at most 200 hits) is cached, pages are cut from it."""
        query = " ".join(query.split())
        await self.ensure_loaded()
        reference = await self.reference_data() if search_type in ("price", "standard") else None

        async def load(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
            hits = await _search(conn, search_type, query, reference)
            sources = ["catalog_items"] if search_type != "standard" else ["reference_sets"]
            return {queries[0]: ([msgspec.to_builtins(hit) for hit in hits], sources)}

        answer = await self.cache.get(search_type, f"search:{query}", load)
        hits = msgspec.convert(answer.result or [], list[KBHit])
        return KBSearchPage(
            items=hits[offset : offset + limit],
            total=len(hits),
            limit=limit,
            offset=offset,
            query=query,
            type=search_type,
            cache="miss" if answer.origin == "source" else answer.origin,
            expires_at=answer.expires_at,
        )


# ---------------------------------------------------------------------------------------- loaders


def _codes_of(queries: Sequence[str]) -> dict[str, str]:
    """ "item:272325" → "272325" (the code part of code and price look-ups)."""
    return {query: normalize_code(query.split(":", 1)[1]) for query in queries}


async def _load_items_by_code(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
    codes = _codes_of(queries)
    rows = (await conn.execute(_ITEMS_BY_CODE, {"codes": sorted(set(codes.values()))})).all()
    by_code: dict[str, list[Any]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(msgspec.to_builtins(_item(row)))
    return {query: (by_code.get(code, []), ["catalog_items"]) for query, code in codes.items()}


async def _load_prices_by_code(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
    codes = _codes_of(queries)
    rows = (await conn.execute(_PRICES_BY_CODE, {"codes": sorted(set(codes.values()))})).all()
    by_code: dict[str, list[Any]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(
            {
                "catalog": row.catalog,
                "valid_from": row.valid_from.isoformat(),
                "reference_price": str(row.reference_price) if row.reference_price is not None else None,
            }
        )
    return {query: (by_code.get(code, []), ["catalog_items"]) for query, code in codes.items()}


async def _load_chapters(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
    prefixes = _codes_of(queries)
    rows = (await conn.execute(_CHAPTER_ITEMS, {"prefixes": sorted(set(prefixes.values()))})).all()
    by_prefix: dict[str, list[Any]] = {}
    for row in rows:
        by_prefix.setdefault(row.prefix, []).append(msgspec.to_builtins(_item(row)))
    return {query: (by_prefix.get(prefix, []), ["catalog_items"]) for query, prefix in prefixes.items()}


async def _load_families(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
    families = [row[0] for row in (await conn.execute(_FAMILIES)).all()]
    return {query: (families, ["catalog_items"]) for query in queries}


async def _load_concrete_items(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
    rows = (await conn.execute(_CONCRETE_ITEMS)).all()
    items = [msgspec.to_builtins(_item(row)) for row in rows]
    return {query: (items, ["catalog_items"]) for query in queries}


def _reference_set_loader(kind: str) -> Any:
    async def load(conn: AsyncConnection, queries: list[str]) -> dict[str, tuple[Any, list[Any]]]:
        row = (await conn.execute(_REFERENCE_SET, {"kind": kind})).first()
        result = {"version": row.version, "data": row.data} if row is not None else None
        return {query: (result, [f"reference_sets:{kind}"]) for query in queries}

    return load


async def _search(
    conn: AsyncConnection, search_type: SearchType, query: str, reference: ReferenceData | None
) -> list[KBHit]:
    q = " ".join(query.split())
    if search_type == "code":
        key = normalize_code(q)
        rows = (await conn.execute(_SEARCH_BY_CODE, {"prefix": _like_prefix(key)})).all()
        return [_item_hit(_item(row), score=len(key) / max(len(row.code), 1)) for row in rows]
    if search_type == "catalog":
        await conn.execute(_SET_THRESHOLD, {"threshold": str(FUZZY_THRESHOLD)})
        rows = (await conn.execute(_SEARCH_BY_TEXT, {"q": q})).all()
        return [_item_hit(_item(row), score=float(row.score)) for row in rows]
    assert reference is not None
    if search_type == "price":
        rows = (await conn.execute(_SEARCH_PRICED, {"q": q, "prefix": _like_prefix(normalize_code(q))})).all()
        hits = [_priced_hit(_item(row), float(row.score), reference.price_bands) for row in rows]
        return _band_hits(q, reference.price_bands) + hits
    return _standard_hits(q, reference.exposure_tables)


def _item_hit(item: CatalogItem, *, score: float, details: dict[str, Any] | None = None) -> KBHit:
    return KBHit(
        kind="catalog_item",
        title=item.description,
        code=item.code,
        catalog=item.catalog,
        unit=item.unit,
        reference_price=item.reference_price,
        valid_from=item.valid_from,
        score=round(score, 4),
        details=details or {"code_shape": code_shape(item.code, item.catalog).value},
    )


def _priced_hit(item: CatalogItem, score: float, bands: PriceBands) -> KBHit:
    band = bands.band_for(code=item.code, text=item.description, unit=item.unit)
    details: dict[str, Any] = {"code_shape": code_shape(item.code, item.catalog).value}
    if band is not None:
        details.update(band_kind=band.kind, band_min=str(band.min_price), band_max=str(band.max_price))
    return _item_hit(item, score=score, details=details)


def _band_hits(q: str, bands: PriceBands) -> list[KBHit]:
    wanted = q.casefold()
    hits = []
    for band in bands.bands:
        words = (band.kind.replace("_", " "), band.label, *band.recognise.keywords)
        if any(wanted in word.casefold() or word.casefold() in wanted for word in words if len(word) > 2):
            hits.append(
                KBHit(
                    kind="price_band",
                    title=f"{band.label}: {band.min_price}–{band.max_price} {bands.currency}/{band.unit}",
                    unit=band.unit,
                    details={
                        "band_kind": band.kind,
                        "min_price": str(band.min_price),
                        "max_price": str(band.max_price),
                        "currency": bands.currency,
                        "vat": bands.vat,
                        "version": bands.version,
                        "source": band.source,
                    },
                )
            )
    return hits


_EXPOSURE_PREFIX = re.compile(r"^X[0CDSFAM]?\d?$", re.IGNORECASE)


def _standard_hits(q: str, tables: ExposureTables) -> list[KBHit]:
    """Exposure classes named in (or starting with) the query, and what a named strength class satisfies."""
    spec = read_concrete_spec(q)
    wanted = list(spec.exposure_classes)
    token = q.replace(" ", "").upper()
    if not wanted and _EXPOSURE_PREFIX.match(token):
        wanted = [name for name in EXPOSURE_CLASSES if name.startswith(token)]
    hits: list[KBHit] = []
    for name in tables.names:
        table = tables.table(name)
        for exposure in wanted:
            minimum = table.minimum_for(exposure)
            if minimum is None:
                continue
            air = exposure in table.air_entrainment.exposure_classes
            title = f"{exposure}: at least {minimum} ({table.source})"
            if air:
                title += f"; air-entrained, ≥ {table.air_entrainment.min_air_content_percent} % air"
            hits.append(
                KBHit(
                    kind="exposure_class",
                    title=title,
                    code=exposure,
                    score=1.0 if name == tables.default_table else 0.9,
                    details={
                        "table": name,
                        "default_table": name == tables.default_table,
                        "exposure_class": exposure,
                        "minimum_strength": minimum,
                        "air_entrainment_percent": str(table.air_entrainment.min_air_content_percent) if air else None,
                        "source": table.source,
                        "version": tables.version,
                    },
                )
            )
        for strength in spec.strength_classes:
            hits.append(_strength_hit(strength, table, tables))
    if not hits:
        folded = q.casefold()
        for name in tables.names:
            table = tables.table(name)
            if folded in table.title.casefold() or folded in table.source.casefold() or folded in name.casefold():
                hits.append(
                    KBHit(
                        kind="standard",
                        title=f"{table.title} ({table.source})",
                        code=name,
                        score=1.0,
                        details={"table": name, "minimum_strength": dict(table.minimum_strength)},
                    )
                )
    return hits


def _strength_hit(strength: StrengthClass, table: ExposureTable, tables: ExposureTables) -> KBHit:
    satisfied = sorted(
        exposure for exposure, minimum in table.minimum_strength.items() if strength >= StrengthClass.parse(minimum)
    )
    not_satisfied = sorted(set(table.minimum_strength) - set(satisfied))
    return KBHit(
        kind="strength_class",
        title=f"{strength.label} meets {', '.join(satisfied) or 'no exposure class'} ({table.source})",
        code=strength.label,
        score=1.0 if table.name == tables.default_table else 0.9,
        details={
            "table": table.name,
            "strength_class": strength.label,
            "satisfies": satisfied,
            "too_weak_for": not_satisfied,
            "source": table.source,
        },
    )
