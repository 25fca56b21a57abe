"""The migrated schema, read back from PostgreSQL's catalog (not from our models)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.db.models import Base
from app.lib.infra import downgrade, migrate
from tests.support.servers import TestServers, create_database, drop_database

TABLES = {
    "users",
    "projects",
    "project_documents",
    "budget_versions",
    "positions",
    "audit_results",
    "chat_history",
    "background_jobs",
    "kb_cache",
}


@pytest.fixture
async def conn(servers: TestServers) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(servers.database_url)
    async with engine.connect() as connection:
        yield connection
    await engine.dispose()


async def _rows(conn: AsyncConnection, sql: str) -> list[tuple]:
    return [tuple(r) for r in (await conn.execute(text(sql))).all()]


async def test_all_nine_tables_exist(conn: AsyncConnection) -> None:
    names = {r[0] for r in await _rows(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert names >= TABLES


async def test_column_types_and_defaults(conn: AsyncConnection) -> None:
    cols = {
        (t, c): (dt, udt, nullable, default, prec, scale, length)
        for t, c, dt, udt, nullable, default, prec, scale, length in await _rows(
            conn,
            """SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
                      numeric_precision, numeric_scale, character_maximum_length
               FROM information_schema.columns WHERE table_schema = 'public'""",
        )
    }
    for table in TABLES:
        assert cols[(table, "id")][1] == "uuid"
        assert "gen_random_uuid()" in cols[(table, "id")][3]
        assert cols[(table, "created_at")][0] == "timestamp with time zone"
        assert "now()" in cols[(table, "created_at")][3]
    money = [
        ("projects", "total_cost"),
        ("positions", "unit_price"),
        ("positions", "total_price"),
        ("budget_versions", "total_cost"),
        ("budget_versions", "delta_cost"),
    ]
    for key in money:
        assert cols[key][4:6] == (15, 2), key
    assert cols[("positions", "quantity")][4:6] == (15, 4)
    for key in [
        ("projects", "progress"),
        ("background_jobs", "progress"),
        ("audit_results", "confidence"),
        ("positions", "confidence"),
    ]:
        assert cols[key][4:6] == (5, 2), key
    for key in [
        ("audit_results", "conflicts_with"),
        ("chat_history", "position_ids"),
        ("chat_history", "document_ids"),
    ]:
        assert cols[key][1] == "_uuid", key
    for key in [
        ("projects", "metadata"),
        ("positions", "enrichment"),
        ("budget_versions", "changes"),
        ("kb_cache", "result"),
        ("project_documents", "extracted_data"),
    ]:
        assert cols[key][1] == "jsonb", key
    assert cols[("projects", "status")][3].startswith("'draft'")
    assert cols[("background_jobs", "status")][3].startswith("'queued'")
    assert cols[("background_jobs", "max_retries")][3] == "3"
    assert cols[("users", "email")][6] == 255
    assert cols[("projects", "name")][2] == "NO"
    assert cols[("projects", "updated_at")][0] == "timestamp with time zone"


async def test_foreign_keys_and_delete_rules(conn: AsyncConnection) -> None:
    rules = {
        (table, column, ref): rule
        for table, column, ref, rule in await _rows(
            conn,
            """SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, c.confdeltype::text
               FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
               WHERE c.contype = 'f'""",
        )
    }
    expected = {
        ("projects", "user_id", "users"): "c",
        ("project_documents", "project_id", "projects"): "c",
        ("budget_versions", "project_id", "projects"): "c",
        ("positions", "project_id", "projects"): "c",
        ("positions", "version_id", "budget_versions"): "c",
        ("positions", "source_document_id", "project_documents"): "n",
        ("audit_results", "position_id", "positions"): "c",
        ("audit_results", "project_id", "projects"): "c",
        ("chat_history", "project_id", "projects"): "c",
        ("chat_history", "user_id", "users"): "n",
        ("background_jobs", "project_id", "projects"): "c",
        ("background_jobs", "user_id", "users"): "n",
    }
    for key, rule in expected.items():
        assert rules.get(key) == rule, key


async def test_indexes(conn: AsyncConnection) -> None:
    defs = {
        name: definition
        for name, definition in await _rows(
            conn, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        )
    }
    joined = "\n".join(defs.values())
    for fragment in [
        "ON public.positions USING btree (project_id, status)",
        "ON public.positions USING btree (project_id, category)",
        "ON public.chat_history USING btree (project_id, created_at DESC)",
        "ON public.budget_versions USING btree (project_id, version DESC)",
        "ON public.background_jobs USING btree (status, priority DESC)",
        "USING gin (to_tsvector('english'::regconfig, indexed_content))",
        "USING gin (to_tsvector('simple'::regconfig, indexed_content))",
        "ON public.budget_versions USING btree (project_id, version)",
        "ON public.kb_cache USING btree (query_hash)",
        "ON public.positions USING btree (code)",
        "ON public.project_documents USING btree (content_hash)",
        "ON public.project_analytics USING btree (date)",
        "gin_trgm_ops",
    ]:
        assert fragment in joined, fragment
    unique = await _rows(
        conn,
        """SELECT conname FROM pg_constraint WHERE contype = 'u'
                                 AND conrelid = 'budget_versions'::regclass""",
    )
    assert unique


async def test_extensions_and_view(conn: AsyncConnection) -> None:
    extensions = {r[0] for r in await _rows(conn, "SELECT extname FROM pg_extension")}
    assert "pg_trgm" in extensions
    await conn.execute(text("REFRESH MATERIALIZED VIEW CONCURRENTLY project_analytics"))


async def test_updated_at_changes_on_raw_update(conn: AsyncConnection) -> None:
    await conn.execute(text("INSERT INTO users (email, password_hash) VALUES ('trigger@example.com', 'x')"))
    before = (await conn.execute(text("SELECT updated_at FROM users WHERE email = 'trigger@example.com'"))).scalar()
    await conn.commit()
    await conn.execute(text("UPDATE users SET full_name = 'T' WHERE email = 'trigger@example.com'"))
    after = (await conn.execute(text("SELECT updated_at FROM users WHERE email = 'trigger@example.com'"))).scalar()
    await conn.rollback()
    assert after > before


async def test_models_match_migrations(conn: AsyncConnection) -> None:
    """Autogenerate finds no difference between the migrated schema and the models."""

    def diff(sync_conn: object) -> list:
        context = MigrationContext.configure(
            sync_conn,  # type: ignore[arg-type]
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": lambda o, n, t, r, c: n not in {"project_analytics", "ix_project_analytics_date"},
            },
        )
        return compare_metadata(context, Base.metadata)

    assert await conn.run_sync(diff) == []


def test_upgrade_downgrade_upgrade_on_empty_database(servers: TestServers) -> None:
    from sqlalchemy.engine import make_url

    server_url = make_url(servers.database_url).set(database="postgres").render_as_string(hide_password=False)
    name = servers.database_url.rsplit("/", 1)[-1].split("?")[0] + "_mig"
    url = create_database(server_url, name)
    try:
        migrate(url)
        downgrade(url, "base")
        migrate(url)
    finally:
        drop_database(server_url, name)
