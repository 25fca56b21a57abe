"""`app catalog ...`: load the reference catalogue and reference tables into PostgreSQL, show what is loaded."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine


@click.group(name="catalog")
def catalog_group() -> None:
    """Reference catalogue (OTSKP, ÚRS, RTS ...), exposure classes and price bands."""


async def _with_engine_and_redis(action: str, source: tuple[str, bytes] | None = None, **options: Any) -> list[str]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.config import get_settings
    from app.lib.redis import create_redis

    settings = get_settings()
    engine = create_async_engine(settings.database_url)  # its own: the command runs its own event loop
    redis = create_redis(settings)
    try:
        if action == "load":
            return await _load(engine, redis, source, **options)
        return await _status(engine)
    finally:
        await redis.aclose()
        await engine.dispose()


async def _load(
    engine: AsyncEngine,
    redis: Redis,
    source: tuple[str, bytes] | None,
    *,
    catalog: str | None,
    dataset_version: str | None,
    valid_from: datetime.date | None,
    reference_kind: str | None,
) -> list[str]:
    from app.domain.kb.loader import SHIPPED_DATASET, load_catalog, load_shipped_data
    from app.domain.kb.reference import read_catalog_file

    if source is None:
        report = await load_shipped_data(engine, redis=redis)
        return report.lines()
    stem, data = source
    if reference_kind is not None:
        import msgspec

        version = dataset_version or str(msgspec.json.decode(data).get("version") or stem)
        report = await load_catalog(
            engine,
            [],
            dataset_version=SHIPPED_DATASET,
            reference_sets=[(reference_kind, version[:50], data)],
            redis=redis,
        )
        return report.lines()
    items = read_catalog_file(data, catalog=catalog, valid_from=valid_from)
    report = await load_catalog(
        engine,
        items,
        dataset_version=(dataset_version or stem)[:50],
        redis=redis,
    )
    return report.lines()


async def _status(engine: AsyncEngine) -> list[str]:
    from sqlalchemy import text

    lines = []
    async with engine.connect() as conn:
        for row in await conn.execute(
            text(
                "SELECT catalog, dataset_version, count(*), min(valid_from), max(valid_from) FROM catalog_items "
                "GROUP BY catalog, dataset_version ORDER BY catalog, dataset_version"
            )
        ):
            lines.append(f"catalog {row[0]!r} ({row[1]}): {row[2]} items, valid from {row[3]} to {row[4]}")
        for row in await conn.execute(
            text(
                "SELECT kind, version, updated_at, rank() OVER (PARTITION BY kind ORDER BY updated_at DESC) "
                "FROM reference_sets ORDER BY kind, updated_at DESC"
            )
        ):
            lines.append(
                f"reference set {row[0]} {row[1]}{' (active)' if row[3] == 1 else ''}, loaded {row[2]:%Y-%m-%d}"
            )
        for row in await conn.execute(
            text(
                "SELECT query_type, count(*), coalesce(sum(access_count), 0) FROM kb_cache "
                "WHERE expires_at > now() GROUP BY query_type ORDER BY 1"
            )
        ):
            lines.append(f"kb_cache {row[0]}: {row[1]} live entries, {row[2]} accesses")
    return lines or ["nothing loaded yet: run `app catalog load`"]


@catalog_group.command(name="load")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--catalog", default=None, help="Catalogue name when the file does not say (e.g. 'OTSKP 2025').")
@click.option("--dataset-version", default=None, help="Stored with every row (default: the file name).")
@click.option(
    "--valid-from",
    default=None,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Validity date for items whose file gives none (default: the date of the row already stored, else today).",
)
@click.option(
    "--reference",
    "reference_kind",
    type=click.Choice(["exposure_classes", "price_bands"]),
    default=None,
    help="FILE is a reference table (JSON shaped like the shipped one), not a catalogue.",
)
def load_command(
    file: Path | None,
    catalog: str | None,
    dataset_version: str | None,
    valid_from: datetime.datetime | None,
    reference_kind: str | None,
) -> None:
    """Load FILE (OTSKP XC4 `CenoveSoustavy` XML or CSV), or without FILE the shipped data; idempotent."""
    from app.domain.kb.reference import CatalogFileError

    try:
        lines = asyncio.run(
            _with_engine_and_redis(
                "load",
                (file.stem, file.read_bytes()) if file is not None else None,
                catalog=catalog,
                dataset_version=dataset_version,
                valid_from=valid_from.date() if valid_from else None,
                reference_kind=reference_kind,
            )
        )
    except (CatalogFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in lines:
        click.echo(line)


@catalog_group.command(name="status")
def status_command() -> None:
    """What is loaded: catalogues, reference-set versions (the active one marked), cache entries."""
    for line in asyncio.run(_with_engine_and_redis("status")):
        click.echo(line)
