"""Budgets for the enrichment and audit tests: a project with one version of chosen positions.

Positions are written through the budget service (as an import would) so that the version, its
totals and the project's aggregates are what production makes; `source_line` keeps their order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.db.models import Position, Project
from app.domain.budgets.changes import NewPosition
from app.domain.budgets.queries import in_version
from app.domain.budgets.services import BudgetService
from tests.support.job_runs import Harness


def budget_position(
    description: str,
    *,
    code: str | None = None,
    unit: str | None = "m3",
    quantity: str | None = "10",
    unit_price: str | None = "1000.00",
    total_price: str | None = None,
    **metadata: Any,
) -> NewPosition:
    """A priced position; the total is quantity × unit price unless given."""
    return NewPosition(
        description=description,
        code=code,
        unit=unit,
        quantity=Decimal(quantity) if quantity is not None else None,
        unit_price=Decimal(unit_price) if unit_price is not None else None,
        total_price=Decimal(total_price) if total_price is not None else None,
        source="uploaded",
        metadata=metadata,
    )


@dataclass
class BuiltBudget:
    project: Project
    version_id: uuid.UUID
    position_ids: list[uuid.UUID]  # in the order given

    def position_id(self, index: int) -> uuid.UUID:
        return self.position_ids[index]


async def build_budget(
    harness: Harness, positions: Sequence[NewPosition], *, project: Project | None = None
) -> BuiltBudget:
    """A new version of `project` (a new project when None) holding exactly `positions`."""
    project = project or await harness.project()
    numbered = [NewPosition(**{**_fields(p), "source_line": index}) for index, p in enumerate(positions, start=1)]
    async with harness.sessions() as session:
        result = await BudgetService(session=session).create_version(project.id, "import", positions=numbered)
        ids = list(
            (
                await session.scalars(
                    select(Position.id).where(in_version(result.version)).order_by(Position.source_line)
                )
            ).all()
        )
        await session.commit()
    return BuiltBudget(project=project, version_id=result.version.id, position_ids=ids)


def _fields(position: NewPosition) -> dict[str, Any]:
    return {name: getattr(position, name) for name in position.__struct_fields__}


# A priced budget with one position of each kind of error (indexes name them) and one in order.
CONCRETE_TOO_WEAK = 0
UNIT_MISMATCH = 1
ZERO_PRICE = 2
WRONG_TOTAL = 3
IN_ORDER = 4

PRICED_BUDGET = [
    budget_position("Základové desky z betonu C25/30 XD3", code="273313711", unit="m3", unit_price="4340.00"),
    budget_position("Sejmutí ornice tl. do 200 mm strojně", code="121151113", unit="m3", unit_price="29.10"),
    budget_position("Zřízení bednění základových desek", code="273351121", unit="m2", unit_price="0"),
    budget_position(
        "Hloubení jam nezapažených do 50 m3 strojně",
        code="131151102",
        unit="m3",
        quantity="10",
        unit_price="308.00",
        total_price="5000.00",
    ),
    budget_position(
        "Hloubení rýh š do 2000 mm objem do 100 m3 strojně", code="132151253", unit="m3", unit_price="332.00"
    ),
]
