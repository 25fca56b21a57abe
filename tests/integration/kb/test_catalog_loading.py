"""Loading the reference catalogue into PostgreSQL: shipped data, reloads, an OTSKP XC4 price list, the CLI."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select, text

from app.config import Settings
from app.db.models import CatalogItem, KBCache, ReferenceSet
from app.domain.kb.loader import load_catalog, load_shipped_data
from app.domain.kb.reference import CatalogItem as CatalogEntry
from app.domain.kb.reference import load_catalog_extract, read_catalog_file
from tests.fixtures.catalog_files import xc4_price_list
from tests.support.job_runs import Harness


async def test_shipped_data_loads_and_reloads_without_duplicates(harness: Harness) -> None:
    await load_shipped_data(harness.engine, redis=harness.redis)
    again = await load_shipped_data(harness.engine, redis=harness.redis)

    shipped = load_catalog_extract()
    assert again.catalog is not None
    assert (again.catalog.read, again.catalog.inserted, again.catalog.updated) == (len(shipped), 0, 0)
    assert again.catalog.unchanged == len(shipped)
    assert {(ref.kind, ref.outcome) for ref in again.reference_sets} == {
        ("exposure_classes", "unchanged"),
        ("price_bands", "unchanged"),
    }
    duplicates = await harness.fetch(
        select(CatalogItem.catalog, CatalogItem.code, func.count())
        .group_by(CatalogItem.catalog, CatalogItem.code)
        .having(func.count() > 1)
    )
    assert duplicates == []
    [(count,)] = await harness.fetch(
        select(func.count()).select_from(CatalogItem).where(CatalogItem.dataset_version == "shipped")
    )
    assert count == len(shipped)
    kinds = {row[0] for row in await harness.fetch(select(ReferenceSet.kind, ReferenceSet.version))}
    assert kinds >= {"exposure_classes", "price_bands"}
    [(code, unit, price, metadata)] = await harness.fetch(
        select(CatalogItem.code, CatalogItem.unit, CatalogItem.reference_price, CatalogItem.metadata_).where(
            CatalogItem.code == "121151113"
        )
    )
    assert (code, unit, price) == ("121151113", "m2", Decimal("29.10"))
    assert metadata["family"] == "urs" and metadata["unit_key"] == "m2"


async def test_xc4_price_list_loads_once_and_a_change_updates_in_place(harness: Harness) -> None:
    catalog = f"OTSKP test {uuid.uuid4().hex[:6]}"
    items = read_catalog_file(xc4_price_list(catalog))

    first = await load_catalog(harness.engine, items, dataset_version="otskp-2025", redis=harness.redis)
    second = await load_catalog(harness.engine, items, dataset_version="otskp-2025", redis=harness.redis)
    changed = [
        item if item.code != "272325" else CatalogEntry(**{**_fields(item), "reference_price": Decimal("9999.00")})
        for item in items
    ]
    third = await load_catalog(harness.engine, changed, dataset_version="otskp-2025", redis=harness.redis)

    assert first.catalog is not None and second.catalog is not None and third.catalog is not None
    assert (first.catalog.inserted, first.catalog.updated) == (3, 0)
    assert (second.catalog.inserted, second.catalog.updated, second.catalog.unchanged) == (0, 0, 3)
    assert (third.catalog.inserted, third.catalog.updated) == (0, 1)
    rows = await harness.fetch(
        select(
            CatalogItem.code,
            CatalogItem.unit,
            CatalogItem.reference_price,
            CatalogItem.valid_from,
            CatalogItem.metadata_,
        )
        .where(CatalogItem.catalog == catalog)
        .order_by(CatalogItem.code)
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("02910", "KPL", None, datetime.date(2025, 1, 1)),
        ("272325", "M3", Decimal("9999.00"), datetime.date(2025, 1, 1)),
        ("272365", "T", Decimal("41200.00"), datetime.date(2025, 1, 1)),
    ]
    assert rows[1][4] == {
        "family": "otskp",
        "unit_key": "m3",
        "technical_spec": "Položka zahrnuje dodání čerstvého betonu.",
    }


async def test_items_without_a_date_keep_their_row_on_a_later_day(harness: Harness) -> None:
    catalog = f"CSV test {uuid.uuid4().hex[:6]}"
    items = [CatalogEntry(catalog=catalog, code="Pol 31", description="Atypický prvek", unit="kus")]
    await load_catalog(harness.engine, items, dataset_version="t", load_date=datetime.date(2025, 3, 1))
    later = await load_catalog(harness.engine, items, dataset_version="t", load_date=datetime.date(2025, 9, 1))

    assert later.catalog is not None and later.catalog.inserted == 0
    rows = await harness.fetch(select(CatalogItem.code, CatalogItem.valid_from).where(CatalogItem.catalog == catalog))
    assert rows == [("POL31", datetime.date(2025, 3, 1))]  # stored normalised, dated by the first load


async def test_a_load_drops_cache_entries_derived_from_the_catalogue(harness: Harness) -> None:
    async with harness.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO kb_cache (query_hash, query_type, query_text, result, expires_at) VALUES "
                "(:h1, 'code', 'stale', '[]', now() + interval '1 day'), "
                "(:h2, 'standard', 'kept', '[]', now() + interval '1 day')"
            ),
            {"h1": uuid.uuid4().hex, "h2": uuid.uuid4().hex},
        )
    catalog = f"OTSKP test {uuid.uuid4().hex[:6]}"
    report = await load_catalog(
        harness.engine, read_catalog_file(xc4_price_list(catalog)), dataset_version="x", redis=harness.redis
    )

    assert report.cache_entries_dropped >= 1
    texts = {row[0] for row in await harness.fetch(select(KBCache.query_text))}
    assert "stale" not in texts and "kept" in texts


async def test_a_new_reference_set_version_becomes_the_active_one(harness: Harness) -> None:
    import msgspec

    from app.domain.kb.loader import shipped_file
    from app.domain.kb.services import KnowledgeBase

    document = msgspec.json.decode(shipped_file("exposure_classes.json"))
    document["default_table"] = "EN_206_F1"
    replaced = msgspec.json.encode(document)
    knowledge = KnowledgeBase(harness.engine, harness.redis)
    try:
        await load_catalog(
            harness.engine,
            [],
            dataset_version="x",
            reference_sets=[("exposure_classes", "2025.1-en", replaced)],
            redis=harness.redis,
        )
        active = await knowledge.reference_data()
    finally:
        await load_shipped_data(harness.engine, redis=harness.redis)  # the shipped versions are active again
    restored = await knowledge.reference_data()

    assert active.versions["exposure_classes"] == "2025.1-en"
    assert active.exposure_tables.table().minimum_for("XC4") == "C30/37"
    assert restored.versions["exposure_classes"] == "2025.1"
    assert restored.exposure_tables.table().minimum_for("XC4") == "C25/30"


def test_cli_loads_a_file_and_reports_counts(settings: Settings, tmp_path: Path) -> None:
    from app.domain.kb.cli import catalog_group

    catalog = f"OTSKP cli {uuid.uuid4().hex[:6]}"
    path = tmp_path / "otskp.xml"
    path.write_bytes(xc4_price_list(catalog))

    first = CliRunner().invoke(catalog_group, ["load", str(path), "--dataset-version", "otskp-cli"])
    second = CliRunner().invoke(catalog_group, ["load", str(path), "--dataset-version", "otskp-cli"])
    status = CliRunner().invoke(catalog_group, ["status"])

    assert first.exit_code == 0, first.output
    assert "3 read, 3 inserted, 0 updated, 0 unchanged" in first.output
    assert "3 read, 0 inserted, 0 updated, 3 unchanged" in second.output
    assert f"catalog {catalog!r} (otskp-cli): 3 items" in status.output
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<XC4><CenoveSoustavy>")
    failed = CliRunner().invoke(catalog_group, ["load", str(broken)])
    assert failed.exit_code != 0 and "broken" in failed.output


def _fields(item: CatalogEntry) -> dict[str, object]:
    return {name: getattr(item, name) for name in item.__struct_fields__}
