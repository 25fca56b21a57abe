"""Loading reference data into PostgreSQL: catalogue items (bulk upsert) and versioned reference sets.

One load is one transaction: every item is upserted on (catalog, code, valid_from), so loading the same
file twice changes nothing. Codes are stored normalised (upper case, no spaces: the look-up key of
``app.domain.kb.codes``); ``metadata`` keeps the item's catalogue family and canonical unit so that
SQL can filter by them. An item without a date keeps the date of the row it already has (else the load
date), so a reload on another day is still idempotent. Every load drops the knowledge-base cache
entries that were derived from the replaced data.

The shipped data (``data/``) is loaded by ``app catalog load`` and, when the tables are empty, on first
use by enrichment, audit or search (``ensure_reference_data``), so a fresh ``make run`` can audit at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import msgspec
import structlog
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.kb.codes import code_family, normalize_code
from app.domain.kb.reference import (
    DATA_PACKAGE,
    EXPOSURE_CLASSES_FILE,
    PRICE_BANDS_FILE,
    CatalogItem,
    load_catalog_extract,
    read_exposure_tables,
    read_price_bands,
)
from app.domain.kb.units import normalize_unit

logger = structlog.get_logger(__name__)

SHIPPED_DATASET = "shipped"
EXPOSURE_CLASSES = "exposure_classes"
PRICE_BANDS = "price_bands"
REFERENCE_KINDS = (EXPOSURE_CLASSES, PRICE_BANDS)
# Knowledge-base look-up types that are answers computed from each kind of reference data.
CATALOG_DERIVED_TYPES = ("code", "catalog", "price")
REFERENCE_SET_DERIVED_TYPES = ("standard", "price")
UPSERT_CHUNK = 5000
_LOAD_LOCK = "kb:reference-data:load"

_UPSERT_ITEMS = text(
    """
    WITH incoming AS (
        SELECT * FROM unnest(
            CAST(:catalogs AS text[]), CAST(:codes AS text[]), CAST(:descriptions AS text[]),
            CAST(:units AS text[]), CAST(:prices AS numeric[]), CAST(:valid_froms AS date[]),
            CAST(:metadata AS text[])
        ) AS t(catalog, code, description, unit, reference_price, valid_from, metadata)
    )
    INSERT INTO catalog_items AS c
        (catalog, code, description, unit, reference_price, valid_from, dataset_version, metadata)
    SELECT i.catalog, i.code, i.description, i.unit, i.reference_price,
           COALESCE(
               i.valid_from,
               (SELECT max(o.valid_from) FROM catalog_items o WHERE o.code = i.code AND o.catalog = i.catalog),
               CAST(:load_date AS date)
           ),
           CAST(:dataset_version AS text), CAST(i.metadata AS jsonb)
    FROM incoming i
    ORDER BY i.catalog, i.code
    ON CONFLICT (catalog, code, valid_from) DO UPDATE SET
        description = EXCLUDED.description,
        unit = EXCLUDED.unit,
        reference_price = EXCLUDED.reference_price,
        dataset_version = EXCLUDED.dataset_version,
        metadata = EXCLUDED.metadata,
        updated_at = now()
    WHERE (c.description, c.unit, c.reference_price, c.dataset_version, c.metadata)
          IS DISTINCT FROM
          (EXCLUDED.description, EXCLUDED.unit, EXCLUDED.reference_price, EXCLUDED.dataset_version, EXCLUDED.metadata)
    RETURNING (xmax = 0) AS inserted
    """
)

# Loading a version again makes it the active one (updated_at), even when its data is the same.
_UPSERT_REFERENCE_SET = text(
    """
    INSERT INTO reference_sets AS r (kind, version, data)
    VALUES (:kind, :version, CAST(:data AS jsonb))
    ON CONFLICT (kind, version) DO UPDATE SET data = EXCLUDED.data, updated_at = now()
    """
)
_SAME_REFERENCE_SET = text(
    "SELECT data = CAST(:data AS jsonb) FROM reference_sets WHERE kind = :kind AND version = :version"
)


class CatalogLoadReport(msgspec.Struct, kw_only=True):
    """What one catalogue load did: rows read from the file, and how many were new, changed or the same."""

    catalog_names: list[str]
    dataset_version: str
    read: int
    inserted: int
    updated: int
    unchanged: int


class ReferenceSetLoadReport(msgspec.Struct, kw_only=True):
    """One reference set: ``outcome`` is inserted, updated (other data) or unchanged (now the active one)."""

    kind: str
    version: str
    outcome: str


class LoadReport(msgspec.Struct, kw_only=True):
    """A whole load: the catalogue part, the reference sets, and the cache entries it made stale."""

    catalog: CatalogLoadReport | None = None
    reference_sets: list[ReferenceSetLoadReport] = msgspec.field(default_factory=list)
    cache_entries_dropped: int = 0

    def lines(self) -> list[str]:
        """The report as lines for people (the CLI prints them)."""
        out: list[str] = []
        if self.catalog is not None:
            c = self.catalog
            out.append(
                f"catalog_items: {c.read} read, {c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged "
                f"(catalogs: {', '.join(c.catalog_names)}; dataset version {c.dataset_version})"
            )
        for ref in self.reference_sets:
            out.append(f"reference_sets: {ref.kind} {ref.version} {ref.outcome} (active)")
        out.append(f"kb_cache: {self.cache_entries_dropped} stale entries dropped")
        return out


def catalog_item_metadata(item: CatalogItem) -> dict[str, Any]:
    """What SQL filters by (family, canonical unit) plus the technical specification when there is one."""
    metadata: dict[str, Any] = {
        "family": code_family(item.code, item.catalog),
        "unit_key": normalize_unit(item.unit),
    }
    if item.technical_spec:
        metadata["technical_spec"] = item.technical_spec
    return metadata


def _unique_rows(items: Iterable[CatalogItem]) -> list[CatalogItem]:
    """One row per (catalog, code, valid_from): a second occurrence in the same file wins."""
    unique: dict[tuple[str, str, datetime.date | None], CatalogItem] = {}
    for item in items:
        code = normalize_code(item.code)
        if not code:
            continue
        unique[(item.catalog, code, item.valid_from)] = msgspec.structs.replace(item, code=code)
    return list(unique.values())


async def upsert_catalog_items(
    conn: AsyncConnection,
    items: Sequence[CatalogItem],
    *,
    dataset_version: str,
    load_date: datetime.date | None = None,
) -> CatalogLoadReport:
    """Bulk upsert (a few statements of up to UPSERT_CHUNK rows each) inside the caller's transaction."""
    rows = _unique_rows(items)
    load_date = load_date or datetime.date.today()
    inserted = updated = 0
    for start in range(0, len(rows), UPSERT_CHUNK):
        chunk = rows[start : start + UPSERT_CHUNK]
        result = await conn.execute(
            _UPSERT_ITEMS,
            {
                "catalogs": [item.catalog for item in chunk],
                "codes": [item.code for item in chunk],
                "descriptions": [item.description for item in chunk],
                "units": [item.unit for item in chunk],
                "prices": [item.reference_price for item in chunk],
                "valid_froms": [item.valid_from for item in chunk],
                "metadata": [msgspec.json.encode(catalog_item_metadata(item)).decode() for item in chunk],
                "load_date": load_date,
                "dataset_version": dataset_version,
            },
        )
        for (was_inserted,) in result.all():
            if was_inserted:
                inserted += 1
            else:
                updated += 1
    return CatalogLoadReport(
        catalog_names=sorted({item.catalog for item in rows}),
        dataset_version=dataset_version,
        read=len(rows),
        inserted=inserted,
        updated=updated,
        unchanged=len(rows) - inserted - updated,
    )


async def upsert_reference_set(conn: AsyncConnection, kind: str, version: str, data: bytes) -> ReferenceSetLoadReport:
    """Store one version of a reference table (validated first); the last one loaded is the active one."""
    if kind == EXPOSURE_CLASSES:
        read_exposure_tables(data)
    elif kind == PRICE_BANDS:
        read_price_bands(data)
    else:
        raise ValueError(f"unknown reference set kind {kind!r}; use one of {', '.join(REFERENCE_KINDS)}")
    document = msgspec.json.encode(msgspec.json.decode(data)).decode()
    same = await conn.scalar(_SAME_REFERENCE_SET, {"kind": kind, "version": version, "data": document})
    await conn.execute(_UPSERT_REFERENCE_SET, {"kind": kind, "version": version, "data": document})
    outcome = "inserted" if same is None else "unchanged" if same else "updated"
    return ReferenceSetLoadReport(kind=kind, version=version, outcome=outcome)


def shipped_file(name: str) -> bytes:
    """A file of the shipped data (``app/domain/kb/data``)."""
    return resources.files(DATA_PACKAGE).joinpath("data", name).read_bytes()


def shipped_reference_sets() -> list[tuple[str, str, bytes]]:
    """(kind, version, document) of the shipped exposure table and price bands."""
    sets = []
    for kind, name in ((EXPOSURE_CLASSES, EXPOSURE_CLASSES_FILE), (PRICE_BANDS, PRICE_BANDS_FILE)):
        data = shipped_file(name)
        version = str(msgspec.json.decode(data).get("version") or SHIPPED_DATASET)
        sets.append((kind, version, data))
    return sets


async def _drop_cache_entries(conn: AsyncConnection, query_types: Iterable[str]) -> int:
    result = await conn.execute(
        text("DELETE FROM kb_cache WHERE query_type = ANY(CAST(:types AS text[]))"), {"types": sorted(set(query_types))}
    )
    return int(result.rowcount or 0)


async def _lock_loads(conn: AsyncConnection) -> None:
    """Loads of reference data run one at a time (per database)."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": _LOAD_LOCK})


async def load_catalog(
    engine: AsyncEngine,
    items: Sequence[CatalogItem],
    *,
    dataset_version: str,
    reference_sets: Sequence[tuple[str, str, bytes]] = (),
    redis: Redis | None = None,
    load_date: datetime.date | None = None,
) -> LoadReport:
    """Load catalogue items (and optionally reference sets) in one transaction; then drop stale cache."""
    report = LoadReport()
    stale_types: set[str] = set()
    async with engine.begin() as conn:
        await _lock_loads(conn)
        if items:
            report.catalog = await upsert_catalog_items(
                conn, items, dataset_version=dataset_version, load_date=load_date
            )
            stale_types.update(CATALOG_DERIVED_TYPES)
        for kind, version, data in reference_sets:
            report.reference_sets.append(await upsert_reference_set(conn, kind, version, data))
            stale_types.update(REFERENCE_SET_DERIVED_TYPES)
        report.cache_entries_dropped = await _drop_cache_entries(conn, stale_types)
    if stale_types:
        from app.domain.kb.cache import forget_cached_answers

        await forget_cached_answers(redis)
    return report


async def load_shipped_data(engine: AsyncEngine, *, redis: Redis | None = None) -> LoadReport:
    """The shipped catalogue extract and both reference sets (what ``app catalog load`` does without FILE)."""
    return await load_catalog(
        engine,
        load_catalog_extract(),
        dataset_version=SHIPPED_DATASET,
        reference_sets=shipped_reference_sets(),
        redis=redis,
    )


_ensured: set[str] = set()


async def ensure_reference_data(engine: AsyncEngine, *, redis: Redis | None = None) -> LoadReport | None:
    """Load the shipped data when the catalogue or a reference set is missing; checked once per process.

    Returns the load report when something was loaded (None otherwise).
    """
    key = engine.url.render_as_string(hide_password=True)
    if key in _ensured:
        return None
    present = """
        SELECT EXISTS (SELECT 1 FROM catalog_items) AS has_items,
               ARRAY(SELECT DISTINCT kind FROM reference_sets) AS kinds
    """
    async with engine.connect() as conn:
        has_items, kinds = (await conn.execute(text(present))).one()
    missing_sets = [entry for entry in shipped_reference_sets() if entry[0] not in set(kinds or ())]
    if has_items and not missing_sets:
        _ensured.add(key)
        return None
    report = LoadReport()
    async with engine.begin() as conn:
        await _lock_loads(conn)
        has_items, kinds = (await conn.execute(text(present))).one()  # another process may have loaded meanwhile
        if not has_items:
            report.catalog = await upsert_catalog_items(conn, load_catalog_extract(), dataset_version=SHIPPED_DATASET)
        for kind, version, data in shipped_reference_sets():
            if kind not in set(kinds or ()):
                report.reference_sets.append(await upsert_reference_set(conn, kind, version, data))
        report.cache_entries_dropped = await _drop_cache_entries(
            conn, (*CATALOG_DERIVED_TYPES, *REFERENCE_SET_DERIVED_TYPES)
        )
    from app.domain.kb.cache import forget_cached_answers

    await forget_cached_answers(redis)
    _ensured.add(key)
    logger.info("shipped reference data loaded", **{"report": report.lines()})
    return report


def forget_ensured() -> None:
    """Check the tables again on next use (tests that empty them call this)."""
    _ensured.clear()
