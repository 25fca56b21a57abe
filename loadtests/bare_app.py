"""The yardstick of bench_http.py: a bare Litestar + msgspec JSON route, no middleware, no I/O.

It answers a body of the same shape and size as our project state, so the difference to
`GET /api/projects/{id}` is what authentication, rate limiting, metrics and the cache cost.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import msgspec
from litestar import Litestar, get


class Item(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    workflow: str
    status: str
    progress: Decimal
    current_version: int
    total_positions: int
    total_cost: Decimal
    issues_count_red: int
    issues_count_amber: int
    issues_count_green: int
    metadata: dict[str, Any]
    completed_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


_OWNER = uuid.uuid4()
_NOW = datetime.datetime.now(datetime.UTC)


@get("/bare/{item_id:uuid}")
async def bare_item(item_id: uuid.UUID) -> Item:
    return Item(
        id=item_id,
        owner_id=_OWNER,
        name="Most přes Valchu, SO 201",
        description="Rozpočet mostního objektu",
        workflow="workflow_a",
        status="completed",
        progress=Decimal("1.00"),
        current_version=3,
        total_positions=298,
        total_cost=Decimal("12345678.90"),
        issues_count_red=4,
        issues_count_amber=17,
        issues_count_green=277,
        metadata={"source": "bench"},
        completed_at=_NOW,
        created_at=_NOW,
        updated_at=_NOW,
    )


app = Litestar(route_handlers=[bare_item], logging_config=None)
