"""Revision 0002 on a database filled at 0001: renames keep their data, new columns are back-filled, and
the spec check that finds the gaps at 0001 finds none after the upgrade. Downgrade gives the data back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.lib.infra import downgrade, migrate
from tests.integration.db.test_spec_schema import column_problems, constraint_problems, index_problems, load_catalogs
from tests.support.servers import TestServers, create_database, drop_database

USER, PROJECT, VERSION, POSITION, DOCUMENT, AUDIT, JOB, CHAT = (uuid.uuid4() for _ in range(8))

FILL_AT_0001 = [
    f"INSERT INTO users (id, email, password_hash) VALUES ('{USER}', 'stara@example.cz', 'x')",
    f"INSERT INTO projects (id, owner_id, name, workflow, completed_at) "
    f"VALUES ('{PROJECT}', '{USER}', 'Most', 'workflow_a', '2026-11-01T10:00:00Z')",
    f"INSERT INTO project_documents (id, project_id, filename, file_type, file_size, content_hash, storage_path,"
    f" created_at) VALUES ('{DOCUMENT}', '{PROJECT}', 'rozpocet.xml', 'unixml', 10, 'h', '/x',"
    f" '2026-10-01T08:00:00Z')",
    f"INSERT INTO budget_versions (id, project_id, version, trigger_type) "
    f"VALUES ('{VERSION}', '{PROJECT}', 1, 'initial')",
    f"INSERT INTO positions (id, project_id, version_id, code, description, status) "
    f"VALUES ('{POSITION}', '{PROJECT}', '{VERSION}', '272325', 'Beton C30/37', 'RED')",
    f"INSERT INTO audit_results (id, project_id, version_id, position_id, expert_role, status) "
    f"VALUES ('{AUDIT}', '{PROJECT}', '{VERSION}', '{POSITION}', 'orchestrator', 'RED')",
    f"INSERT INTO background_jobs (id, project_id, job_type, payload) "
    f"""VALUES ('{JOB}', '{PROJECT}', 'audit_project', '{{"exposure_table": "EN_206_F1"}}')""",
    f"INSERT INTO chat_history (id, project_id, message) VALUES ('{CHAT}', '{PROJECT}', 'Je to dobře?')",
    "INSERT INTO kb_cache (query_hash, query_type, result, expires_at, created_at) "
    "VALUES ('abc', 'code', '{}', now() + interval '1 day', '2026-11-02T00:00:00Z')",
    "REFRESH MATERIALIZED VIEW project_analytics",
]


def _sql(url: str, statements: list[str]) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return [
                    (await conn.execute(text(s))).all()
                    if s.lstrip().startswith("SELECT")
                    else (await conn.execute(text(s)), None)[1]
                    for s in statements
                ]
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def database_at_0001(servers: TestServers) -> Iterator[str]:
    server_url = make_url(servers.database_url).set(database="postgres").render_as_string(hide_password=False)
    name = f"{make_url(servers.database_url).database}_m{uuid.uuid4().hex[:6]}"
    url = create_database(server_url, name)
    try:
        migrate(url, "0001")
        _sql(url, FILL_AT_0001)
        yield url
    finally:
        drop_database(server_url, name)


def test_upgrade_keeps_the_data_and_meets_the_spec(database_at_0001: str) -> None:
    url = database_at_0001
    before = asyncio.run(load_catalogs(url))
    gaps = column_problems(*before) + index_problems(*before)
    for expected in (
        "projects.user_id: missing",
        "audit_results.recommendation: missing",
        "background_jobs.input_data: missing",
        "chat_history.question_id: missing",
        "projects.name: varchar(259) does not hold varchar(504)",
        "kb_cache.query_text: nullable, the spec says NOT NULL",
        "project_analytics.date: missing",
        "positions: no index btree (category)",
    ):
        assert expected in gaps

    migrate(url)

    after = asyncio.run(load_catalogs(url))
    assert column_problems(*after) + index_problems(*after) + constraint_problems(*after) == []
    (project, document, audit, job, kb, chat, day) = _sql(
        url,
        [
            f"SELECT user_id, name FROM projects WHERE id = '{PROJECT}'",
            f"SELECT original_filename, uploaded_at = created_at FROM project_documents WHERE id = '{DOCUMENT}'",
            f"SELECT recommendation, resolved FROM audit_results WHERE id = '{AUDIT}'",
            f"SELECT input_data, saq_job_key FROM background_jobs WHERE id = '{JOB}'",
            "SELECT query_text, last_accessed_at = created_at FROM kb_cache WHERE query_hash = 'abc'",
            f"SELECT context, actions, question_id FROM chat_history WHERE id = '{CHAT}'",
            "SELECT date, projects_created FROM project_analytics",
        ],
    )
    assert project == [(USER, "Most")]
    assert document == [("rozpocet.xml", True)]
    assert audit == [("RED", False)]
    assert job == [({"exposure_table": "EN_206_F1"}, str(JOB))]
    assert kb == [("", True)]
    assert chat == [({}, [], None)]
    assert sorted(count for _, count in day) == [0, 1]  # the day it was created, the day it was completed

    downgrade(url, "0001")
    (project, audit, job) = _sql(
        url,
        [
            f"SELECT owner_id FROM projects WHERE id = '{PROJECT}'",
            f"SELECT status FROM audit_results WHERE id = '{AUDIT}'",
            f"SELECT payload FROM background_jobs WHERE id = '{JOB}'",
        ],
    )
    assert (project, audit, job) == ([(USER,)], [("RED",)], [({"exposure_table": "EN_206_F1"},)])
