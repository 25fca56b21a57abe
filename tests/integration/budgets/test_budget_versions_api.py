"""Versioned budgets over HTTP: every edit is a new immutable version with totals, delta and a diff."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, add_position


def positions_url(project: dict[str, Any], suffix: str = "") -> str:
    return f"/api/projects/{project['id']}/positions{suffix}"


async def test_add_edit_delete_each_make_a_version(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    first = await add_position(client, api_user, project["id"])
    assert first["version"]["version"] == 1
    assert first["version"]["trigger_type"] == "user_edit"
    assert first["position"]["total_price"] == "43125.00"  # 12.5 × 3450.00
    second = await add_position(client, api_user, project["id"], code="273321", quantity="0.333", unit_price="10.05")
    assert second["version"]["version"] == 2
    assert second["position"]["total_price"] == "3.35"  # 3.34665 half-up
    assert second["version"]["total_cost"] == "43128.35"
    assert second["version"]["delta_cost"] == "3.35"

    lineage = first["position"]["lineage_id"]
    patched = await client.patch(
        positions_url(project, f"/{lineage}"), json={"quantity": "10"}, headers=api_user.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["position"]["total_price"] == "34500.00"
    assert patched.json()["position"]["lineage_id"] == lineage
    assert patched.json()["position"]["id"] != first["position"]["id"]
    assert patched.headers["etag"] == '"3"'

    deleted = await client.delete(
        positions_url(project, f"/{second['position']['lineage_id']}"), headers=api_user.headers
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["position"] is None
    assert deleted.json()["version"]["version"] == 4
    assert deleted.json()["version"]["total_cost"] == "34500.00"
    assert deleted.json()["version"]["delta_cost"] == "-3.35"

    versions = (await client.get(f"/api/projects/{project['id']}/versions", headers=api_user.headers)).json()
    assert [v["version"] for v in versions["items"]] == [4, 3, 2, 1]
    assert versions["total"] == 4
    assert [v["total_positions"] for v in versions["items"]] == [1, 2, 2, 1]


async def test_version_detail_carries_the_changes(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    first = await add_position(client, api_user, project["id"])
    lineage = first["position"]["lineage_id"]
    await client.patch(
        positions_url(project, f"/{lineage}"),
        json={"unit_price": "3500", "notes": "dle ceníku"},
        headers=api_user.headers,
    )
    await client.delete(positions_url(project, f"/{lineage}"), headers=api_user.headers)

    async def version(number: int) -> dict[str, Any]:
        response = await client.get(f"/api/projects/{project['id']}/versions/{number}", headers=api_user.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    added = (await version(1))["changes"]
    assert [a["lineage_id"] for a in added["added"]] == [lineage]
    assert added["removed"] == added["modified"] == []
    modified = (await version(2))["changes"]["modified"]
    assert len(modified) == 1
    assert modified[0]["lineage_id"] == lineage
    assert modified[0]["previous_position_id"] == first["position"]["id"]
    assert modified[0]["fields"] == {
        "unit_price": {"before": "3450.00", "after": "3500.00"},
        "total_price": {"before": "43125.00", "after": "43750.00"},
        "notes": {"before": None, "after": "dle ceníku"},
    }
    removed = (await version(3))["changes"]["removed"]
    assert [r["lineage_id"] for r in removed] == [lineage]
    missing = await client.get(f"/api/projects/{project['id']}/versions/9", headers=api_user.headers)
    assert missing.status_code == 404


async def test_versions_are_immutable(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    first = await add_position(client, api_user, project["id"])
    lineage = first["position"]["lineage_id"]
    await client.patch(
        positions_url(project, f"/{lineage}"), json={"description": "Jiný popis"}, headers=api_user.headers
    )
    await client.delete(positions_url(project, f"/{lineage}"), headers=api_user.headers)
    v1 = (await client.get(positions_url(project), params={"version": 1}, headers=api_user.headers)).json()
    assert [p["description"] for p in v1["items"]] == [first["position"]["description"]]
    assert v1["items"][0]["id"] == first["position"]["id"]
    v2 = await client.get(positions_url(project), params={"version": 2}, headers=api_user.headers)
    assert v2.headers["etag"] == '"2"'
    assert [p["description"] for p in v2.json()["items"]] == ["Jiný popis"]
    latest = await client.get(positions_url(project), headers=api_user.headers)
    assert latest.json()["items"] == []
    assert latest.headers["etag"] == '"3"'
    missing = await client.get(positions_url(project), params={"version": 7}, headers=api_user.headers)
    assert missing.status_code == 404


async def test_a_position_is_addressed_by_lineage_or_the_id_of_any_version(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    first = await add_position(client, api_user, project["id"])
    old_id = first["position"]["id"]
    by_id = await client.patch(positions_url(project, f"/{old_id}"), json={"unit": "m2"}, headers=api_user.headers)
    assert by_id.status_code == 200
    latest_id = by_id.json()["position"]["id"]
    older = await client.patch(positions_url(project, f"/{old_id}"), json={"unit": "m"}, headers=api_user.headers)
    assert older.status_code == 200  # an id of an older version addresses the same lineage
    assert older.json()["position"]["lineage_id"] == first["position"]["lineage_id"]
    assert older.json()["version"]["version"] == 3
    by_latest = await client.patch(
        positions_url(project, f"/{latest_id}"), json={"unit": "t"}, headers=api_user.headers
    )
    assert by_latest.status_code == 200
    unknown = await client.delete(
        positions_url(project, "/00000000-0000-4000-8000-000000000000"), headers=api_user.headers
    )
    assert unknown.status_code == 404


async def test_if_match_refuses_a_stale_edit(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    first = await add_position(client, api_user, project["id"])
    url = positions_url(project, f"/{first['position']['lineage_id']}")
    ok = await client.patch(url, json={"quantity": "2"}, headers={**api_user.headers, "If-Match": '"1"'})
    assert ok.status_code == 200
    stale = await client.patch(url, json={"quantity": "3"}, headers={**api_user.headers, "If-Match": "1"})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_version"] == 2
    assert stale.headers["etag"] == '"2"'
    weak_stale = {**api_user.headers, "If-Match": 'W/"1"'}
    assert (await client.delete(url, headers=weak_stale)).status_code == 412
    added = await client.post(positions_url(project), json={"description": "x"}, headers=weak_stale)
    assert added.status_code == 412
    bad = await client.patch(url, json={"quantity": "3"}, headers={**api_user.headers, "If-Match": "abc"})
    assert bad.status_code == 400
    versions = (await client.get(f"/api/projects/{project['id']}/versions", headers=api_user.headers)).json()
    assert versions["total"] == 2  # refused edits made no version


async def test_positions_filters_and_pagination(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    await add_position(client, api_user, project["id"], code="111", description="Výkop jámy", category="Zemní práce")
    await add_position(client, api_user, project["id"], code="222", description="Beton základů", status="RED")
    await add_position(client, api_user, project["id"], code="333", description="Bednění základů", status="GREEN")

    async def codes(**params: Any) -> list[str]:
        response = await client.get(positions_url(project), params=params, headers=api_user.headers)
        assert response.status_code == 200, response.text
        return [p["code"] for p in response.json()["items"]]

    assert await codes() == ["111", "222", "333"]
    assert await codes(status="RED") == ["222"]
    assert await codes(category="Zemní práce") == ["111"]
    assert await codes(code="333") == ["333"]
    assert await codes(q="ZÁKLADŮ") == ["222", "333"]
    assert await codes(q="22") == ["222"]
    page = (await client.get(positions_url(project), params={"limit": 1, "offset": 1}, headers=api_user.headers)).json()
    assert (page["total"], page["limit"], page["offset"], [p["code"] for p in page["items"]]) == (3, 1, 1, ["222"])
    bad = await client.get(positions_url(project), params={"status": "BLUE"}, headers=api_user.headers)
    assert bad.status_code == 400


async def test_project_aggregates_follow_the_latest_version(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    lines = [("0.125", "1.00", "RED"), ("0.333", "10.05", "AMBER"), ("3", "0.35", "GREEN"), ("2", "2.50", "RED")]
    for quantity, price, status in lines:
        await add_position(client, api_user, project["id"], quantity=quantity, unit_price=price, status=status)
    expected = sum((Decimal(q) * Decimal(p)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP") for q, p, _ in lines)
    state = (await client.get(f"/api/projects/{project['id']}", headers=api_user.headers)).json()
    # 0.13 (0.125 half-up) + 3.35 (3.34665) + 1.05 + 5.00; the unrounded sum 9.52165 would give 9.52
    assert Decimal(state["total_cost"]) == expected == Decimal("9.53")
    assert state["total_positions"] == 4
    assert (state["issues_count_red"], state["issues_count_amber"], state["issues_count_green"]) == (2, 1, 1)
    assert state["current_version"] == 4
    listed = (await client.get(positions_url(project), headers=api_user.headers)).json()["items"]
    assert sum(Decimal(p["total_price"]) for p in listed) == expected


async def test_a_given_total_is_kept(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    lump = await add_position(
        client, api_user, project["id"], unit="kpl", quantity="1", unit_price="999.99", total_price="1000.00"
    )
    assert lump["position"]["total_price"] == "1000.00"
    url = positions_url(project, f"/{lump['position']['lineage_id']}")
    renamed = await client.patch(url, json={"description": "Zařízení staveniště"}, headers=api_user.headers)
    assert renamed.json()["position"]["total_price"] == "1000.00"  # untouched without a new quantity/price
    repriced = await client.patch(url, json={"unit_price": "1200"}, headers=api_user.headers)
    assert repriced.json()["position"]["total_price"] == "1200.00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x", "quantity": "1.00001"}, "quantity"),
        ({"description": "x", "unit_price": "1.001"}, "unit_price"),
        ({"description": "x", "unit_price": "1e20"}, "unit_price"),
        ({"description": "x", "confidence": "101"}, "confidence"),
        ({"description": ""}, "description"),
        ({"quantity": "1"}, "description"),
        ({"description": "x", "status": "BLUE"}, "status"),
        ({"description": "x", "lineage_id": "00000000-0000-4000-8000-000000000000"}, "lineage_id"),
    ],
)
async def test_position_validation_names_the_field(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await client.post(positions_url(project), json=body, headers=api_user.headers)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert any(field in e["field"] or field in e["message"] for e in errors), errors
    versions = (await client.get(f"/api/projects/{project['id']}/versions", headers=api_user.headers)).json()
    assert versions["total"] == 0


async def test_an_empty_patch_is_refused(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    first = await add_position(client, api_user, project["id"])
    response = await client.patch(
        positions_url(project, f"/{first['position']['lineage_id']}"), json={}, headers=api_user.headers
    )
    assert response.status_code == 400
