"""Revision 0005 (position rows shared by a range of versions) on a database filled at 0004: every
version reads the same rows after the upgrade, and after a downgrade each version has its own rows
again (a verdict follows the copy of its version)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.db.models import AuditResult, BudgetVersion, Position, Project, User
from app.domain.audits.services import AuditService
from app.domain.budgets.changes import ChangeSet, NewPosition
from app.domain.budgets.queries import in_version
from app.domain.budgets.services import BudgetService
from app.domain.kb.services import KnowledgeBase
from app.lib.infra import downgrade, migrate
from tests.integration.db.test_migration_0002 import _sql
from tests.integration.db.test_spec_schema import column_problems, constraint_problems, index_problems, load_catalogs
from tests.support.audit_budgets import PRICED_BUDGET
from tests.support.servers import TestServers, create_database, drop_database

USER, PROJECT, V1, V2, V3 = (uuid.uuid4() for _ in range(5))
L_KEPT, L_REMOVED, L_ADDED = (uuid.uuid4() for _ in range(3))
KEPT_1, KEPT_2, REMOVED_1, ADDED_2 = (uuid.uuid4() for _ in range(4))
OPEN = 2_147_483_647


def _position(position_id: uuid.UUID, version_id: uuid.UUID, lineage_id: uuid.UUID, code: str) -> str:
    return (
        f"INSERT INTO positions (id, project_id, version_id, lineage_id, code, description) "
        f"VALUES ('{position_id}', '{PROJECT}', '{version_id}', '{lineage_id}', '{code}', 'Beton')"
    )


FILL_AT_0004 = [
    f"INSERT INTO users (id, email, password_hash) VALUES ('{USER}', 'verze@example.cz', 'x')",
    f"INSERT INTO projects (id, user_id, name, workflow, current_version) "
    f"VALUES ('{PROJECT}', '{USER}', 'Most', 'workflow_a', 2)",
    f"INSERT INTO budget_versions (id, project_id, version, trigger_type) VALUES ('{V1}', '{PROJECT}', 1, 'import')",
    f"INSERT INTO budget_versions (id, project_id, version, trigger_type) VALUES ('{V2}', '{PROJECT}', 2, 'user_edit')",
    _position(KEPT_1, V1, L_KEPT, "1"),
    _position(REMOVED_1, V1, L_REMOVED, "2"),
    _position(KEPT_2, V2, L_KEPT, "1"),
    _position(ADDED_2, V2, L_ADDED, "3"),
]


@pytest.fixture
def database_at_0004(servers: TestServers) -> Iterator[str]:
    server_url = make_url(servers.database_url).set(database="postgres").render_as_string(hide_password=False)
    name = f"{make_url(servers.database_url).database}_m{uuid.uuid4().hex[:6]}"
    url = create_database(server_url, name)
    try:
        migrate(url, "0004")
        _sql(url, FILL_AT_0004)
        yield url
    finally:
        drop_database(server_url, name)


def _version_rows(url: str, version_id: uuid.UUID) -> set[uuid.UUID]:
    (rows,) = _sql(
        url,
        [
            "SELECT p.id FROM budget_versions v JOIN positions p ON p.project_id = v.project_id"
            f" AND p.valid_from <= v.version AND p.valid_to > v.version WHERE v.id = '{version_id}'"
        ],
    )
    return {row[0] for row in rows}


def test_upgrade_gives_each_row_its_version_and_downgrade_gives_each_version_its_rows(database_at_0004: str) -> None:
    url = database_at_0004
    migrate(url)
    after = asyncio.run(load_catalogs(url))
    assert column_problems(*after) + index_problems(*after) + constraint_problems(*after) == []
    (ranges,) = _sql(url, ["SELECT id, valid_from, valid_to FROM positions"])
    assert {row[0]: (row[1], row[2]) for row in ranges} == {
        KEPT_1: (1, 2),
        REMOVED_1: (1, 2),
        KEPT_2: (2, OPEN),  # the current version's rows stay open: the next edit shares them
        ADDED_2: (2, OPEN),
    }
    assert _version_rows(url, V1) == {KEPT_1, REMOVED_1}
    assert _version_rows(url, V2) == {KEPT_2, ADDED_2}

    # Version 3 as the app makes it now: it shares both rows of version 2; its audit has a verdict on one.
    audit = uuid.uuid4()
    _sql(
        url,
        [
            f"INSERT INTO budget_versions (id, project_id, version, trigger_type) "
            f"VALUES ('{V3}', '{PROJECT}', 3, 'user_edit')",
            f"UPDATE projects SET current_version = 3 WHERE id = '{PROJECT}'",
            f"INSERT INTO audit_results (id, project_id, version_id, position_id, expert_role, recommendation) "
            f"VALUES ('{audit}', '{PROJECT}', '{V3}', '{ADDED_2}', 'orchestrator', 'RED')",
        ],
    )
    assert _version_rows(url, V3) == {KEPT_2, ADDED_2}

    downgrade(url, "0004")
    (by_version, verdict) = _sql(
        url,
        [
            "SELECT version_id, array_agg(lineage_id ORDER BY code), array_agg(id ORDER BY code)"
            " FROM positions GROUP BY version_id",
            f"SELECT p.version_id, p.lineage_id FROM audit_results a JOIN positions p ON p.id = a.position_id"
            f" WHERE a.id = '{audit}'",
        ],
    )
    rows = {row[0]: (row[1], row[2]) for row in by_version}
    assert rows[V1] == ([L_KEPT, L_REMOVED], [KEPT_1, REMOVED_1])
    assert rows[V2] == ([L_KEPT, L_ADDED], [KEPT_2, ADDED_2])
    assert rows[V3][0] == [L_KEPT, L_ADDED] and not set(rows[V3][1]) & {KEPT_2, ADDED_2}
    assert verdict == [(V3, L_ADDED)]


# ------------------------------------------- a history made by the app, then the downgrade


async def _history_made_by_the_app(url: str, redis_url: str) -> tuple[dict[Any, Any], dict[Any, Any], uuid.UUID]:
    """Edits, removals, additions and audits (which split shared rows) of one project, as the app
    makes them; returns every version's positions and its audit's verdicts, by lineage, and the
    latest version's id."""
    engine = create_async_engine(url)
    redis = Redis.from_url(redis_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session, session.begin():
            user = User(email=f"h-{uuid.uuid4().hex[:8]}@example.cz", password_hash="x", status="active")
            session.add(user)
            await session.flush()
            project = Project(owner_id=user.id, name="Historie", workflow="workflow_a")
            session.add(project)
        knowledge = KnowledgeBase(engine, redis)
        changes = [
            ChangeSet(modified={0: {"notes": "a"}}),  # type: ignore[dict-item]
            None,  # an audit of version 2: every row it shares with version 1 is split
            ChangeSet(removed=[1]),  # type: ignore[list-item]
            ChangeSet(modified={2: {"quantity": Decimal(7)}}),  # type: ignore[dict-item]
            None,
            ChangeSet(added=[NewPosition(description="Nová", code="999999", quantity=Decimal(1))]),
            None,
        ]
        async with sessions() as session:
            first = await BudgetService(session=session).create_version(
                project.id, "import", positions=[NewPosition(**_fields(p)) for p in PRICED_BUDGET]
            )
            await session.commit()
        lineages = sorted(first.position_ids)
        for change in changes:
            async with sessions() as session, session.begin():
                if change is None:
                    await AuditService(session, knowledge).audit(project.id)
                    continue
                by_index = ChangeSet(
                    modified={lineages[i]: values for i, values in change.modified.items()},  # type: ignore[index]
                    removed=[lineages[i] for i in change.removed],  # type: ignore[index]
                    added=change.added,
                )
                await BudgetService(session=session).create_version(project.id, "user_edit", changes=by_index)
        rows, verdicts = {}, {}
        async with sessions() as session:
            latest = await session.scalar(
                select(BudgetVersion.id).where(BudgetVersion.project_id == project.id, BudgetVersion.version == 5)
            )
            assert latest is not None
            for version in await session.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project.id)):
                in_it = (await session.scalars(select(Position).where(in_version(version)))).all()
                rows[version.id] = {p.lineage_id: (p.code, p.quantity, p.notes, p.status) for p in in_it}
                found = await session.execute(
                    select(Position.lineage_id, AuditResult.expert_role, AuditResult.status)
                    .join(Position, Position.id == AuditResult.position_id)
                    .where(AuditResult.version_id == version.id)
                )
                verdicts[version.id] = {(lineage, role): status for lineage, role, status in found.all()}
        return rows, verdicts, latest
    finally:
        await redis.aclose()
        await engine.dispose()


def _fields(position: NewPosition) -> dict[str, Any]:
    return {name: getattr(position, name) for name in position.__struct_fields__}


@pytest.fixture
def database_at_head(servers: TestServers) -> Iterator[str]:
    server_url = make_url(servers.database_url).set(database="postgres").render_as_string(hide_password=False)
    name = f"{make_url(servers.database_url).database}_h{uuid.uuid4().hex[:6]}"
    url = create_database(server_url, name)
    try:
        migrate(url)
        yield url
    finally:
        drop_database(server_url, name)


def test_downgrade_of_a_shared_history_gives_each_version_what_it_read(
    database_at_head: str, servers: TestServers
) -> None:
    url = database_at_head
    rows, verdicts, latest = asyncio.run(_history_made_by_the_app(url, servers.redis_url))
    assert len(rows) == 5
    # Every audit is whole (six verdicts a position of its version), older ones too (revision 0008: a row
    # shared by versions carries each audited version's verdicts).
    assert len(verdicts[latest]) == 5 * 6
    assert sorted(len(found) for found in verdicts.values()) == [0, 0, 4 * 6, 5 * 6, 5 * 6]
    downgrade(url, "0004")
    (positions, results) = _sql(
        url,
        [
            "SELECT version_id, lineage_id, code, quantity, notes, status FROM positions",
            "SELECT a.version_id, p.version_id, p.lineage_id, a.expert_role, a.recommendation"
            " FROM audit_results a JOIN positions p ON p.id = a.position_id",
        ],
    )
    after_rows: dict[Any, dict[Any, Any]] = {version: {} for version in rows}
    for version_id, lineage_id, *content in positions:
        assert lineage_id not in after_rows[version_id]
        after_rows[version_id][lineage_id] = tuple(content)
    assert after_rows == rows
    after_verdicts: dict[Any, dict[Any, Any]] = {version: {} for version in rows}
    for audited, holder, lineage_id, role, status in results:
        assert holder == audited  # a verdict sits on its own version's copy
        after_verdicts[audited][(lineage_id, role)] = status
    assert after_verdicts == verdicts
