"""Shared position rows under concurrent writers and readers.

A row belongs to the versions `valid_from <= n < valid_to`; `version_id` is only the version that
wrote it. Readers must say which version they read, and in-place writers (audit verdicts, enrichment)
must not let a version made meanwhile (a PATCH, a re-import, another audit) change after it was made.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from app.db.models import AuditResult, BudgetVersion, FindingResolution, Position, Project
from app.domain.audits.services import ORCHESTRATOR, AuditService
from app.domain.budgets.changes import ChangeSet, NewPosition
from app.domain.budgets.queries import in_version
from app.domain.budgets.services import BudgetService
from app.domain.kb.enrichment import EnrichmentService, write_enrichment
from app.domain.kb.matching import EnrichmentMatch
from app.domain.kb.services import KnowledgeBase
from tests.support.api import ApiUser, create_project
from tests.support.audit_budgets import PRICED_BUDGET, build_budget
from tests.support.budgets import budget_service
from tests.support.job_runs import Harness

DEADLINE_SECONDS = 30


async def test_a_version_lists_its_positions_as_its_own(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], settings: Any
) -> None:
    """`version_id` of a listed position is the version read, also for a row shared with others."""
    async with budget_service(settings) as service:
        await service.create_version(
            project["id"],
            "import",
            changes=ChangeSet(added=[NewPosition(code=f"27{i:04d}", description=f"Položka {i}") for i in range(3)]),
        )
    url = f"/api/projects/{project['id']}"
    first = (await client.get(f"{url}/positions", headers=api_user.headers)).json()["items"]
    edited = await client.patch(f"{url}/positions/{first[0]['id']}", json={"notes": "x"}, headers=api_user.headers)
    assert edited.status_code == 200, edited.text
    for number in (1, 2):
        version_id = (await client.get(f"{url}/versions/{number}", headers=api_user.headers)).json()["id"]
        items = (await client.get(f"{url}/positions?version={number}", headers=api_user.headers)).json()["items"]
        assert len(items) == 3
        assert {item["version_id"] for item in items} == {version_id}


async def _blocked_or_done(harness: Harness, pid: int, task: asyncio.Task[Any]) -> None:
    """Until the task's connection waits for a lock (or the task ended)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not task.done():
        async with harness.engine.connect() as conn:
            waiting = await conn.scalar(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
        if waiting == "Lock":
            return
        assert time.monotonic() < deadline, "the writer neither finished nor waited for a lock"
        await asyncio.sleep(0.02)


async def _contents(harness: Harness, project_id: uuid.UUID) -> dict[int, dict[uuid.UUID, tuple[Any, ...]]]:
    """Every version's rows as lineage → what a reader sees."""
    async with harness.sessions() as session:
        versions = (await session.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project_id))).all()
        found = {}
        for version in versions:
            rows = (await session.scalars(select(Position).where(in_version(version)))).all()
            assert len({row.lineage_id for row in rows}) == len(rows), "a lineage twice in one version"
            found[version.version] = {
                row.lineage_id: (row.notes, row.quantity, row.status, row.confidence, row.enrichment) for row in rows
            }
        return found


async def test_enrichment_of_a_version_cannot_change_a_version_made_meanwhile(harness: Harness) -> None:
    budget = await build_budget(harness, PRICED_BUDGET[:3])
    project_id = budget.project.id
    matches = [EnrichmentMatch(match=None, score=0.5, evidence={"rule": "none"}) for _ in budget.position_ids]
    async with harness.sessions() as editing:
        # A PATCH in flight: version 2 is written, the project is locked, nothing is committed yet.
        await BudgetService(session=editing).create_version(
            project_id, "user_edit", changes=ChangeSet(modified={budget.position_ids[0]: {"notes": "x"}})
        )
        async with harness.sessions() as enriching:
            version_one = await enriching.get(BudgetVersion, budget.version_id)
            assert version_one is not None
            pid = await enriching.scalar(text("SELECT pg_backend_pid()"))

            async def enrich() -> None:
                await write_enrichment(enriching, budget.position_ids, matches, version=version_one)
                await enriching.commit()

            task = asyncio.create_task(enrich())
            await _blocked_or_done(harness, int(pid or 0), task)
            created = await _contents(harness, project_id)  # version 2 is not visible yet
            await editing.commit()
            await task
    after = await _contents(harness, project_id)
    # Version 2 reads what it read when it was made: the enrichment of version 1 is version 1's.
    assert all(row[4] == {} for row in after[2].values()), after[2]
    assert all(row[4]["score"] == 0.5 for row in after[1].values())
    assert created[1].keys() == after[1].keys() and len(after[2]) == 3


async def _in_the_middle(action: Awaitable[None]) -> Any:
    """A progress callback that runs `action` once, the first time it is called."""
    pending = [action]

    async def progress(fraction: float, message: str = "", **_: Any) -> None:
        while pending:
            await pending.pop()

    return progress


async def test_a_stale_audit_keeps_to_its_version_and_leaves_a_newer_audit_whole(harness: Harness) -> None:
    """Audit A reads version 1; meanwhile an edit makes version 2 and audit B audits it whole; then A
    stores. A's verdicts belong to version 1's rows, B's stay on version 2's, and no version's
    statuses are the other audit's."""
    budget = await build_budget(harness, PRICED_BUDGET)
    project_id = budget.project.id
    knowledge = KnowledgeBase(harness.engine, harness.redis)

    async def edit_and_audit() -> None:
        async with harness.sessions() as session:
            await BudgetService(session=session).create_version(
                project_id, "user_edit", changes=ChangeSet(modified={budget.position_ids[4]: {"notes": "x"}})
            )
            await session.commit()
        async with harness.sessions() as session, session.begin():
            outcome = await AuditService(session, knowledge).audit(project_id)
        assert outcome.version == 2

    progress = await _in_the_middle(edit_and_audit())
    async with harness.sessions() as session, session.begin():
        outcome = await AuditService(session, knowledge).audit(project_id, progress=progress)
    assert outcome.version == 1

    async with harness.sessions() as session:
        versions = {
            v.version: v
            for v in await session.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project_id))
        }
        for number in (1, 2):
            version = versions[number]
            rows = (await session.scalars(select(Position).where(in_version(version)))).all()
            verdicts = (
                await session.execute(
                    select(AuditResult.position_id, AuditResult.version_id, AuditResult.status).where(
                        AuditResult.position_id.in_([row.id for row in rows]), AuditResult.expert_role == ORCHESTRATOR
                    )
                )
            ).all()
            # Each version's rows carry its own audit's verdict, one per row, and its status.
            assert {row.id for row in rows} == {v[0] for v in verdicts}, number
            assert {v[1] for v in verdicts} == {version.id}, number
            status_of = {v[0]: v[2] for v in verdicts}
            assert all(row.status == status_of[row.id] for row in rows), number


async def test_edits_an_audit_and_an_enrichment_at_once_each_change_only_their_version(harness: Harness) -> None:
    """Ten edits (one note on ten positions), an audit and an enrichment of the same project at once:
    version k holds the notes of the first k - 1 edits and nothing else changed; statuses only in the
    audited version, enrichment only in the enriched one; each lineage once per version."""
    budget = await build_budget(harness, PRICED_BUDGET * 2)
    project_id = budget.project.id
    knowledge = KnowledgeBase(harness.engine, harness.redis)

    async def edit(index: int) -> None:
        async with harness.sessions() as session:
            change = ChangeSet(modified={budget.position_ids[index]: {"notes": f"e{index}"}})
            await BudgetService(session=session).create_version(project_id, "user_edit", changes=change)
            await session.commit()

    async def audit() -> int | None:
        async with harness.sessions() as session, session.begin():
            return (await AuditService(session, knowledge).audit(project_id)).version

    async def enrich() -> int | None:
        async with harness.sessions() as session, session.begin():
            return (await EnrichmentService(session, knowledge).enrich(project_id)).version

    audited, enriched, *_ = await asyncio.gather(audit(), enrich(), *(edit(i) for i in range(10)))
    history = await _contents(harness, project_id)  # also: each lineage once per version
    assert sorted(history) == list(range(1, 12))
    noted: set[uuid.UUID] = set()
    for number in range(1, 12):
        rows = history[number]
        now_noted = {lineage for lineage, row in rows.items() if row[0] is not None}
        assert noted <= now_noted and len(now_noted) == number - 1, number
        noted = now_noted
        statuses = {row[2] for row in rows.values()}
        assert (None not in statuses) if number == audited else (statuses == {None}), number
        enrichments = [row[4] for row in rows.values()]
        assert all(enrichments) if number == enriched else not any(enrichments), number


async def test_every_id_a_position_ever_had_still_addresses_its_lineage(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    """Splitting shared rows gives older versions new row ids: the ids of every list ever read still
    reach the lineage's latest state, 404 naming the version that removed it, 409 after a re-import."""
    created = await create_project(client, api_user)
    project_id = uuid.UUID(created["id"])
    seeded = [
        NewPosition(position_number=str(i), code=f"27{i:04d}", description=f"Položka {i}", quantity=Decimal(1))
        for i in (1, 2, 3)
    ]
    async with harness.sessions() as session:
        await BudgetService(session=session).create_version(project_id, "import", changes=ChangeSet(added=seeded))
        await session.commit()
    url = f"/api/projects/{project_id}/positions"

    async def listed(version: int) -> dict[str, list[str]]:
        """code → [id, lineage_id] in that version."""
        items = (await client.get(f"{url}?version={version}", headers=api_user.headers)).json()["items"]
        return {item["code"]: [item["id"], item["lineage_id"]] for item in items}

    before = await listed(1)
    third = before["270003"][0]
    assert (await client.patch(f"{url}/{third}", json={"notes": "x"}, headers=api_user.headers)).status_code == 200
    async with harness.sessions() as session, session.begin():
        await AuditService(session, KnowledgeBase(harness.engine, harness.redis)).audit(project_id)
    one, two = await listed(1), await listed(2)
    assert one["270001"][0] != before["270001"][0]  # version 1 got its own copy; version 2 kept the row
    assert two["270001"][0] == before["270001"][0]
    ids = {code: {before[code][0], one[code][0], two[code][0], before[code][1]} for code in before}

    removed = await client.delete(f"{url}/{one['270001'][0]}", headers=api_user.headers)
    assert removed.status_code == 200 and removed.json()["version"]["version"] == 3
    for reference in ids["270001"]:
        response = await client.patch(f"{url}/{reference}", json={"notes": "y"}, headers=api_user.headers)
        assert response.status_code == 404 and response.json()["removed_in_version"] == 3, response.text

    async with harness.sessions() as session:
        reimport = [
            NewPosition(position_number="9", code="270002", description="Jiný popis", quantity=Decimal(1)),
            NewPosition(position_number="3", code="270003", description="Položka 3", quantity=Decimal(1)),
        ]
        await BudgetService(session=session).create_version(project_id, "import", positions=reimport)
        await session.commit()
    for reference in ids["270002"]:
        response = await client.patch(f"{url}/{reference}", json={"notes": "z"}, headers=api_user.headers)
        assert response.status_code == 409 and "replaced in version 4" in response.json()["detail"], response.text
    for reference in ids["270003"]:
        response = await client.patch(f"{url}/{reference}", json={"notes": reference}, headers=api_user.headers)
        assert response.status_code == 200 and response.json()["position"]["lineage_id"] == before["270003"][1]


async def test_deleting_a_project_with_a_shared_history_removes_all_of_it(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    created = await create_project(client, api_user)
    project_id = uuid.UUID(created["id"])
    [project] = await harness.scalars(select(Project).where(Project.id == project_id))
    budget = await build_budget(harness, PRICED_BUDGET, project=project)
    async with harness.sessions() as session:
        change = ChangeSet(modified={budget.position_ids[0]: {"notes": "x"}})
        await BudgetService(session=session).create_version(project_id, "user_edit", changes=change)
        await session.commit()
    async with harness.sessions() as session, session.begin():
        await AuditService(session, KnowledgeBase(harness.engine, harness.redis)).audit(project_id)
    url = f"/api/projects/{project_id}"
    findings = (await client.get(f"{url}/audit", headers=api_user.headers)).json()["items"]
    red = next(item["verdict"]["id"] for item in findings if item["status"] == "RED")
    resolved = await client.post(
        f"{url}/audit/findings/{red}/resolution", json={"resolution": "accepted_as_is"}, headers=api_user.headers
    )
    assert resolved.status_code == 200, resolved.text

    assert (await client.delete(url, headers=api_user.headers)).status_code == 204
    for model in (Position, AuditResult, BudgetVersion, FindingResolution):
        [(left,)] = await harness.fetch(select(func.count()).select_from(model).where(model.project_id == project_id))
        assert left == 0, model


async def test_a_lineage_cannot_have_two_open_rows(harness: Harness) -> None:
    """The database itself refuses a position listed twice in the latest version: a second open row of
    a lineage whose row version 2 shares with version 1 (unique (version_id, lineage_id) allows it)."""
    budget = await build_budget(harness, PRICED_BUDGET[:2])
    shared, edited = budget.position_ids
    async with harness.sessions() as session:
        change = ChangeSet(modified={edited: {"notes": "x"}})
        second = await BudgetService(session=session).create_version(budget.project.id, "user_edit", changes=change)
        await session.commit()
    async with harness.sessions() as session:
        with pytest.raises(IntegrityError, match="uq_positions_lineage_valid_to"):
            await session.execute(
                text(
                    "INSERT INTO positions (project_id, version_id, valid_from, lineage_id, description)"
                    " SELECT project_id, :version_id, 2, lineage_id, description FROM positions WHERE id = :id"
                ),
                {"id": shared, "version_id": second.version.id},
            )
