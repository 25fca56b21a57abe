"""budget_versions.summary: the version's totals by object and by category, and its audit counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.models import BudgetVersion
from app.domain.budgets.changes import ChangeSet, NewPosition
from tests.support.api import ApiUser, run_sql
from tests.support.budgets import budget_service


def _position(code: str, object_code: str | None, category: str | None, price: str, status: str | None) -> NewPosition:
    return NewPosition(
        code=code,
        description=f"Položka {code}",
        category=category,
        quantity=Decimal(2),
        unit_price=Decimal(price),
        status=status,
        metadata={"object_code": object_code} if object_code else {},
    )


async def test_every_version_stores_its_totals_by_object_and_category_and_its_audit_counts(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], settings: Settings
) -> None:
    positions = [
        _position("1", "SO 01", "Zemní práce", "10.00", "GREEN"),
        _position("2", "SO 01", "Základy", "100.00", "RED"),
        _position("3", "SO 02", "Základy", "1000.00", "AMBER"),
        _position("4", None, None, "5.00", None),
    ]
    async with budget_service(settings) as service:
        result = await service.create_version(project["id"], "import", changes=ChangeSet(added=positions))  # type: ignore[arg-type]
    [summary] = [
        row[0]
        for row in await run_sql(settings, select(BudgetVersion.summary).where(BudgetVersion.id == result.version.id))
    ]
    assert summary["positions"] == 4 and Decimal(summary["total_cost"]) == Decimal("2230.00")
    assert summary["by_object"] == [
        {"object_code": "SO 01", "positions": 2, "total_cost": "220.00"},
        {"object_code": "SO 02", "positions": 1, "total_cost": "2000.00"},
        {"object_code": None, "positions": 1, "total_cost": "10.00"},
    ]
    assert summary["by_category"] == [  # by code point, then the positions without one
        {"category": "Zemní práce", "positions": 1, "total_cost": "20.00"},
        {"category": "Základy", "positions": 2, "total_cost": "2200.00"},
        {"category": None, "positions": 1, "total_cost": "10.00"},
    ]
    assert summary["audit"] == {
        "RED": 1,
        "AMBER": 1,
        "GREEN": 1,
        "resolved": {"RED": 0, "AMBER": 0},
        "unaudited": 1,
    }
    state = (await client.get(f"/api/projects/{project['id']}", headers=api_user.headers)).json()
    assert (state["issues_count_red"], state["issues_count_amber"], state["issues_count_green"]) == (1, 1, 1)
    assert Decimal(state["total_cost"]) == Decimal("2230.00")
