"""BudgetService.create_version as other domains call it: imports (full sets), change sets, bulk SQL."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.domain.budgets.changes import ChangeSet, NewPosition
from app.domain.budgets.records import PositionRecord
from app.lib.errors import InvalidInput, NotFound
from tests.support.api import ApiUser, csv_bytes, text_bytes
from tests.support.budgets import budget_service


def records(count: int, *, price: str = "10.00") -> list[PositionRecord]:
    return [
        PositionRecord(
            position_number=str(i + 1),
            code=f"{100000 + i}",
            description=f"Položka rozpočtu {i + 1}",
            unit="m3",
            quantity=Decimal("1.5"),
            unit_price=Decimal(price),
            source_line=i + 2,
            object_code="SO 01",
        )
        for i in range(count)
    ]


async def test_an_import_replaces_the_budget_and_keeps_lineages(settings: Settings, project: dict[str, Any]) -> None:
    project_id = uuid.UUID(project["id"])
    first = records(200)
    async with budget_service(settings) as service:
        v1 = await service.create_version(project_id, "import", {"file": "a.xml"}, positions=first)
    assert (v1.version.version, v1.version.total_positions) == (1, 200)
    assert v1.version.total_cost == Decimal("3000.00")  # 200 × 1.5 × 10.00
    assert len(v1.version.changes["added"]) == 200

    second = records(200)
    second[0].quantity = Decimal("3")
    removed = second.pop(1)
    second.append(PositionRecord(position_number="201", code="999999", description="Nová", quantity=Decimal(1)))
    statements: list[str] = []
    async with budget_service(settings, statements) as service:
        v2 = await service.create_version(project_id, "import", {"file": "b.xml"}, positions=second)
    changes = v2.version.changes
    assert [m["fields"]["quantity"] for m in changes["modified"]] == [{"before": "1.5000", "after": "3.0000"}]
    assert [r["code"] for r in changes["removed"]] == [removed.code]
    assert [a["code"] for a in changes["added"]] == ["999999"]
    assert v2.version.delta_cost == Decimal("0.00")  # +15.00 (quantity), -15.00 (removed), +0 (no price)
    unchanged = set(v1.position_ids) & set(v2.position_ids)
    assert len(unchanged) == 199  # every continued position kept its lineage
    assert len(statements) < 15, statements  # bulk: no statement per position


async def test_a_change_set_can_add_modify_and_remove_at_once(settings: Settings, project: dict[str, Any]) -> None:
    project_id = uuid.UUID(project["id"])
    async with budget_service(settings) as service:
        v1 = await service.create_version(project_id, "import", positions=records(3))
        first, second, third = list(v1.position_ids)
        v2 = await service.create_version(
            project_id,
            "audit",
            {"job_id": "x"},
            changes=ChangeSet(
                added=[NewPosition(description="Doplněno auditem", quantity=Decimal(2), unit_price=Decimal("5.55"))],
                modified={first: {"status": "RED", "confidence": Decimal("87.5")}, second: {"status": "GREEN"}},
                removed=[v1.position_ids[third]],  # the id in the latest version works as well as the lineage
            ),
        )
    assert v2.version.version == 2
    assert v2.project.issues_count_red == 1
    assert v2.project.issues_count_green == 1
    assert v2.project.total_positions == 3
    assert v2.project.total_cost == Decimal("15.00") + Decimal("15.00") + Decimal("11.10")
    changes = v2.version.changes
    assert len(changes["added"]) == 1 and len(changes["modified"]) == 2 and len(changes["removed"]) == 1


async def test_reimporting_one_document_leaves_the_others(
    client: AsyncTestClient[Litestar], settings: Settings, api_user: ApiUser, project: dict[str, Any]
) -> None:
    url = f"/api/projects/{project['id']}/documents"
    doc_a = (await client.post(url, files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers)).json()
    doc_b = (await client.post(url, files={"file": ("b.txt", text_bytes())}, headers=api_user.headers)).json()
    a_id, b_id = uuid.UUID(doc_a["document"]["id"]), uuid.UUID(doc_b["document"]["id"])
    project_id = uuid.UUID(project["id"])
    async with budget_service(settings) as service:
        await service.create_version(
            project_id, "document_added", positions=records(10), replace_source_document_id=a_id
        )
        v2 = await service.create_version(
            project_id, "document_added", positions=records(5, price="20.00"), replace_source_document_id=b_id
        )
        assert v2.version.total_positions == 15
        v3 = await service.create_version(project_id, "import", positions=records(9), replace_source_document_id=a_id)
    assert v3.version.total_positions == 14
    assert [r["code"] for r in v3.version.changes["removed"]] == ["100009"]
    positions = (
        await client.get(f"/api/projects/{project['id']}/positions", params={"limit": 100}, headers=api_user.headers)
    ).json()
    sources = [p["source_document_id"] for p in positions["items"]]
    assert sources.count(str(a_id)) == 9 and sources.count(str(b_id)) == 5


async def test_refusals_leave_no_version(settings: Settings, project: dict[str, Any]) -> None:
    project_id = uuid.UUID(project["id"])
    async with budget_service(settings) as service:
        with pytest.raises(InvalidInput):
            await service.create_version(project_id, "because", changes=ChangeSet())
        with pytest.raises(NotFound):
            await service.create_version(project_id, "audit", changes=ChangeSet(removed=[uuid.uuid4()]))
        with pytest.raises(NotFound):
            await service.create_version(uuid.uuid4(), "audit", changes=ChangeSet())
        with pytest.raises(InvalidInput):
            await service.create_version(
                project_id, "import", changes=ChangeSet(added=[NewPosition(description="x", quantity=Decimal("1e12"))])
            )
    async with budget_service(settings) as service:
        assert await service.version_by_number(project_id, 1) is None
