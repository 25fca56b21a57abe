"""The specification's SQL (tests/fixtures/spec_schema.sql), run by PostgreSQL in a scratch schema, against
the migrated one: every table, column, key, foreign key, unique constraint and index of the spec exists.

PostgreSQL parses the spec, so both sides are read from the same catalog in the same words.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.support.servers import TestServers

SPEC_SQL = Path(__file__).parents[2] / "fixtures" / "spec_schema.sql"

# Where we knowingly differ from the spec (README, "Schema"):
# the queue's job key keeps the name of its role (SAQ, not Celery) ...
RENAMED_COLUMNS = {("background_jobs", "celery_task_id"): "saq_job_key"}
# ... e-mail uniqueness is case-insensitive, which is stricter than the spec's UNIQUE (email) ... and a
# spec index on (a) is answered by a full btree index on (a, b) (positions: project_id, version_id).
STRICTER_UNIQUE_KEYS = {("users", "btree (email)"): "btree (lower((email)::text))"}

_COLUMNS = """
SELECT c.relname, a.attname, t.typname, a.atttypmod, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = :schema AND c.relkind IN ('r', 'm') AND a.attnum > 0 AND NOT a.attisdropped
"""
_INDEXES = """
SELECT c.relname, ix.indisunique, ix.indisprimary, pg_get_indexdef(ix.indexrelid)
FROM pg_index ix
JOIN pg_class c ON c.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema
"""
_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, c.confdeltype::text,
       array(SELECT a.attname::text FROM unnest(c.conkey) AS k JOIN pg_attribute a
             ON a.attrelid = c.conrelid AND a.attnum = k ORDER BY a.attname)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = :schema AND c.contype = 'f'
"""
_CHECKS = """
SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = :schema AND c.contype = 'c'
"""


class Catalog:
    """One schema's tables as the catalog describes them (names without the schema)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.columns: dict[tuple[str, str], tuple[str, int, bool, str | None]] = {}
        self.indexes: list[tuple[str, bool, bool, str]] = []
        self.foreign_keys: list[tuple[str, tuple[str, ...], str, str]] = []
        self.checks: set[tuple[str, str]] = set()

    async def load(self, conn: AsyncConnection) -> Catalog:
        params = {"schema": self.schema}
        for table, column, type_name, typmod, not_null, default in await conn.execute(text(_COLUMNS), params):
            self.columns[(table, column)] = (type_name, typmod, not_null, default)
        for table, unique, primary, definition in await conn.execute(text(_INDEXES), params):
            self.indexes.append((table, unique, primary, definition.split(" USING ", 1)[1]))
        for table, referenced, on_delete, columns in await conn.execute(text(_FOREIGN_KEYS), params):
            self.foreign_keys.append((self._bare(table), tuple(columns), self._bare(referenced), on_delete))
        for table, definition in await conn.execute(text(_CHECKS), params):
            self.checks.add((self._bare(table), definition))
        return self

    def _bare(self, name: str) -> str:
        return name.removeprefix(f"{self.schema}.")

    @property
    def tables(self) -> set[str]:
        return {table for table, _ in self.columns}


def _size(type_name: str, typmod: int) -> tuple[int, int] | None:
    """(length, 0) of a varchar, (precision, scale) of a numeric, None otherwise or unbounded."""
    if typmod < 0:
        return None
    if type_name in ("varchar", "bpchar"):
        return typmod - 4, 0
    if type_name == "numeric":
        return (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
    return None


def _fits(spec: tuple[str, int], ours: tuple[str, int]) -> bool:
    """Our column holds every value of the spec's: same type, at least its length / digits and scale."""
    (spec_type, spec_mod), (our_type, our_mod) = spec, ours
    if spec_type != our_type:
        return False
    spec_size, our_size = _size(spec_type, spec_mod), _size(our_type, our_mod)
    if spec_size is None:
        return True
    if our_size is None:  # unbounded varchar / numeric
        return True
    if spec_type == "numeric":
        return our_size[1] >= spec_size[1] and our_size[0] - our_size[1] >= spec_size[0] - spec_size[1]
    return our_size[0] >= spec_size[0]


def _our_key(table: str, key: str) -> str:
    for (renamed_table, column), ours in RENAMED_COLUMNS.items():
        if renamed_table == table:
            key = key.replace(f"({column})", f"({ours})").replace(f"({column} ", f"({ours} ")
    return key


def column_problems(spec: Catalog, ours: Catalog) -> list[str]:
    problems = [f"{table}: missing" for table in sorted(spec.tables - ours.tables)]
    for (table, column), (type_name, typmod, not_null, default) in sorted(spec.columns.items()):
        name = RENAMED_COLUMNS.get((table, column), column)
        mine = ours.columns.get((table, name))
        if mine is None:
            problems.append(f"{table}.{column}: missing")
            continue
        if not _fits((type_name, typmod), (mine[0], mine[1])):
            problems.append(f"{table}.{column}: {mine[0]}({mine[1]}) does not hold {type_name}({typmod})")
        if not_null and not mine[2]:
            problems.append(f"{table}.{column}: nullable, the spec says NOT NULL")
        if default is not None and default != mine[3]:
            problems.append(f"{table}.{column}: default {mine[3]!r}, the spec says {default!r}")
    return problems


def _covers(ours: str, wanted: str) -> bool:
    """Our index answers the spec's look-ups: the same key, or a full btree index leading with it."""
    if ours == wanted:
        return True
    return wanted.startswith("btree (") and " WHERE " not in ours and ours.startswith(wanted[:-1] + ", ")


def index_problems(spec: Catalog, ours: Catalog) -> list[str]:
    problems = []
    for table, unique, primary, key in spec.indexes:
        wanted = _our_key(table, key)
        candidates = [(u, p) for t, u, p, k in ours.indexes if t == table and k == wanted]
        covering = [k for t, _, _, k in ours.indexes if t == table and _covers(k, wanted)]
        if unique and not any(u for u, _ in candidates):
            stricter = STRICTER_UNIQUE_KEYS.get((table, key))
            if not any(t == table and u and k == stricter for t, u, _, k in ours.indexes):
                problems.append(f"{table}: no unique index {wanted}")
        if primary and not any(p for _, p in candidates):
            problems.append(f"{table}: primary key is not {wanted}")
        if not covering and not unique:
            problems.append(f"{table}: no index {wanted}")
    return problems


def constraint_problems(spec: Catalog, ours: Catalog) -> list[str]:
    problems = []
    for table, columns, referenced, on_delete in spec.foreign_keys:
        matching = [rule for t, c, r, rule in ours.foreign_keys if (t, c, r) == (table, columns, referenced)]
        if not matching:
            problems.append(f"{table}{columns} → {referenced}: missing")
        # "a" (NO ACTION) is the spec saying nothing: any rule keeps its meaning of the reference
        elif on_delete != "a" and on_delete not in matching:
            problems.append(f"{table}{columns} → {referenced}: ON DELETE {matching}, the spec says {on_delete}")
    problems += [f"{table}: no CHECK {definition}" for table, definition in sorted(spec.checks - ours.checks)]
    return problems


async def load_catalogs(database_url: str) -> tuple[Catalog, Catalog]:
    """The spec run in a scratch schema (rolled back) and the database's public schema."""
    schema = f"spec_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
            await conn.execute(text(f"SET search_path TO {schema}, pg_catalog"))
            driver: Any = (await conn.get_raw_connection()).driver_connection
            await driver.execute(SPEC_SQL.read_text(encoding="utf-8"))  # the whole script, as psql runs it
            await conn.execute(text("SET search_path TO public"))
            catalogs = await Catalog(schema).load(conn), await Catalog("public").load(conn)
            await conn.rollback()
            return catalogs
    finally:
        await engine.dispose()


@pytest.fixture
async def catalogs(servers: TestServers) -> tuple[Catalog, Catalog]:
    return await load_catalogs(servers.database_url)


async def test_the_spec_script_describes_the_nine_tables(catalogs: tuple[Catalog, Catalog]) -> None:
    spec, _ = catalogs
    assert len(spec.tables) == 10  # nine tables and the analytics view
    assert len(spec.columns) > 140 and len(spec.indexes) > 40 and len(spec.foreign_keys) >= 14


async def test_every_table_and_column_of_the_spec_exists(catalogs: tuple[Catalog, Catalog]) -> None:
    assert column_problems(*catalogs) == []


async def test_every_key_and_index_of_the_spec_exists(catalogs: tuple[Catalog, Catalog]) -> None:
    assert index_problems(*catalogs) == []


async def test_every_foreign_key_and_check_of_the_spec_exists(catalogs: tuple[Catalog, Catalog]) -> None:
    assert constraint_problems(*catalogs) == []


def test_a_composite_btree_index_covers_its_leading_column_only() -> None:
    assert _covers("btree (version_id, lineage_id)", "btree (version_id)")
    assert not _covers("btree (version_id_old, lineage_id)", "btree (version_id)")
    assert not _covers("btree (lineage_id, version_id)", "btree (version_id)")
    assert not _covers("btree (version_id, lineage_id) WHERE (status IS NULL)", "btree (version_id)")
    assert not _covers("gin (to_tsvector('english'::regconfig, indexed_content))", "btree (indexed_content)")
