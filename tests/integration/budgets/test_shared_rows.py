"""Versions share position rows: an edit writes only what changed, and every version still reads whole.

A row belongs to the versions `valid_from <= n < valid_to` of its project. An edit closes the changed
row and inserts its new state; in-place writes on a version's rows (audit verdicts, enrichment) first
make those rows the version's own (`own_rows`), so the other versions keep what they had.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.config import Settings
from app.db.models import AuditResult, BudgetVersion, Position
from app.domain.budgets.changes import ChangeSet
from app.domain.budgets.queries import in_version, version_positions
from app.domain.budgets.records import PositionRecord
from app.domain.budgets.rows import own_rows
from tests.support.budgets import budget_service


def records(count: int) -> list[PositionRecord]:
    return [
        PositionRecord(
            position_number=str(i + 1),
            code=f"{200000 + i}",
            description=f"Položka {i + 1}",
            unit="m3",
            quantity=Decimal("2"),
            unit_price=Decimal("10.00"),
            source_line=i + 2,
        )
        for i in range(count)
    ]


async def _version_rows(settings: Settings, project_id: uuid.UUID, number: int) -> dict[uuid.UUID, Position]:
    engine = create_async_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            version = await session.scalar(
                select(BudgetVersion).where(BudgetVersion.project_id == project_id, BudgetVersion.version == number)
            )
            assert version is not None
            rows = (await session.scalars(select(Position).where(in_version(version)))).all()
            return {row.lineage_id: row for row in rows}
    finally:
        await engine.dispose()


async def _row_count(settings: Settings, project_id: uuid.UUID) -> int:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(select(func.count()).where(Position.project_id == project_id))
            return int(count or 0)
    finally:
        await engine.dispose()


async def test_an_edit_writes_only_the_changed_row_and_every_version_reads_whole(
    settings: Settings, project: dict[str, Any]
) -> None:
    project_id = uuid.UUID(project["id"])
    async with budget_service(settings) as service:
        v1 = await service.create_version(project_id, "import", positions=records(50))
    lineages = sorted(v1.position_ids)
    first, second = lineages[0], lineages[1]
    async with budget_service(settings) as service:
        await service.create_version(project_id, "user_edit", changes=ChangeSet(modified={first: {"notes": "a"}}))
        await service.create_version(
            project_id, "user_edit", changes=ChangeSet(modified={first: {"quantity": Decimal("3")}})
        )
        v4 = await service.create_version(project_id, "user_edit", changes=ChangeSet(removed=[second]))
    assert v4.version.total_positions == 49
    # 50 rows of the import, then one per edit of a position (a removal writes none).
    assert await _row_count(settings, project_id) == 52

    v1_rows, v2_rows, v3_rows, v4_rows = [await _version_rows(settings, project_id, n) for n in (1, 2, 3, 4)]
    assert (len(v1_rows), len(v2_rows), len(v3_rows), len(v4_rows)) == (50, 50, 50, 49)
    assert v1_rows[first].notes is None and v1_rows[first].quantity == Decimal("2.0000")
    assert v2_rows[first].notes == "a" and v2_rows[first].quantity == Decimal("2.0000")
    assert v3_rows[first].notes == "a" and v3_rows[first].quantity == Decimal("3.0000")
    assert second in v3_rows and second not in v4_rows
    # Unchanged positions are the same rows (same ids, same updated_at) in every version.
    third = lineages[2]
    assert v1_rows[third].id == v4_rows[third].id
    assert v1_rows[third].updated_at == v4_rows[third].updated_at
    assert v1_rows[first].id != v2_rows[first].id != v3_rows[first].id
    assert v1_rows[first].updated_at == v1_rows[third].updated_at  # closing a row is not an edit of it


async def test_an_in_place_write_on_a_shared_row_leaves_the_other_versions_as_they_were(
    settings: Settings, project: dict[str, Any]
) -> None:
    project_id = uuid.UUID(project["id"])
    async with budget_service(settings) as service:
        v1 = await service.create_version(project_id, "import", positions=records(3))
        other = sorted(v1.position_ids)[0]
        await service.create_version(project_id, "user_edit", changes=ChangeSet(modified={other: {"notes": "x"}}))
        await service.create_version(project_id, "user_edit", changes=ChangeSet(modified={other: {"notes": "y"}}))
    shared_lineage = sorted(v1.position_ids)[1]
    shared_id = v1.position_ids[shared_lineage]  # one row in versions 1, 2 and 3

    engine = create_async_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            versions = {
                v.version: v
                for v in await session.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project_id))
            }
            # An audit of version 1 left a verdict on the row.
            session.add(
                AuditResult(
                    project_id=project_id,
                    version_id=versions[1].id,
                    position_id=shared_id,
                    expert_role="orchestrator",
                    status="GREEN",
                    confidence=Decimal("80"),
                )
            )
            await session.flush()
            # An audit of version 2 writes its verdict on the row in place.
            assert await own_rows(session, versions[2], [shared_id]) == 1
            assert await own_rows(session, versions[2], [shared_id]) == 0  # already its own
            await session.execute(
                update(Position).where(Position.id == shared_id).values(status="RED"),
                execution_options={"synchronize_session": False},
            )
            await session.commit()
            in_two = [row["id"] for row in await version_positions(session, versions[2].id)]
            verdict_row = await session.scalar(
                select(AuditResult.position_id).where(AuditResult.version_id == versions[1].id)
            )
            ranges = (
                await session.execute(
                    text("SELECT valid_from, valid_to FROM positions WHERE lineage_id = :l ORDER BY valid_from"),
                    {"l": shared_lineage},
                )
            ).all()
    finally:
        await engine.dispose()

    assert shared_id in in_two  # the version written keeps the row (and its id)
    assert [tuple(r) for r in ranges] == [(1, 2), (2, 3), (3, 2_147_483_647)]
    v1_rows, v2_rows, v3_rows = [await _version_rows(settings, project_id, n) for n in (1, 2, 3)]
    assert (v1_rows[shared_lineage].status, v2_rows[shared_lineage].status, v3_rows[shared_lineage].status) == (
        None,
        "RED",
        None,
    )
    assert v2_rows[shared_lineage].id == shared_id
    assert verdict_row == v1_rows[shared_lineage].id  # version 1's verdict moved with version 1's copy
    assert all(len(rows) == 3 for rows in (v1_rows, v2_rows, v3_rows))


async def test_a_reimport_shares_the_rows_it_does_not_change(settings: Settings, project: dict[str, Any]) -> None:
    project_id = uuid.UUID(project["id"])
    async with budget_service(settings) as service:
        v1 = await service.create_version(project_id, "import", positions=records(20))
        again = records(20)
        again[3].quantity = Decimal("5")
        v2 = await service.create_version(project_id, "import", positions=again)
    assert [m["fields"] for m in v2.version.changes["modified"]] == [
        {"quantity": {"before": "2.0000", "after": "5.0000"}, "total_price": {"before": "20.00", "after": "50.00"}}
    ]
    assert await _row_count(settings, project_id) == 21  # the changed position only
    v1_rows, v2_rows = [await _version_rows(settings, project_id, n) for n in (1, 2)]
    assert len(v2_rows) == 20
    assert v2.position_ids == {lineage: row.id for lineage, row in v2_rows.items()}
    changed = {lineage for lineage in v1_rows if v1_rows[lineage].id != v2_rows[lineage].id}
    assert len(changed) == 1 and v1.position_ids.keys() == v2_rows.keys()
