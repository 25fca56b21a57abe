"""Versioned budgets over HTTP: every edit is a new immutable version with totals and a diff."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, add_position


async def test_add_edit_delete_make_versions(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    pid = project["id"]
    first = await add_position(client, api_user, pid)
    assert first["version"]["version"] == 1
    assert first["position"]["total_price"] == "43125.00"
    second = await add_position(client, api_user, pid, code="273321", quantity="0.333", unit_price="10.05")
    assert second["version"]["version"] == 2
    assert second["position"]["total_price"] == "3.35"
    lineage = first["position"]["lineage_id"]
    patched = await client.patch(
        f"/api/projects/{pid}/positions/{lineage}", json={"quantity": "10"}, headers=api_user.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["position"]["total_price"] == "34500.00"
    assert patched.json()["version"]["version"] == 3
    detail = await client.get(f"/api/projects/{pid}/versions/3", headers=api_user.headers)
    assert detail.status_code == 200, detail.text
    print(detail.json())
    listing = await client.get(f"/api/projects/{pid}/positions", headers=api_user.headers)
    print(listing.json(), listing.headers)
