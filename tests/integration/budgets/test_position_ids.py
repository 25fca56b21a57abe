"""Position ids that survive edits: an id from any version addresses its lineage in the latest version."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from app.domain.budgets.changes import ChangeSet, NewPosition
from tests.support.api import ApiUser
from tests.support.budgets import budget_service


async def _seed(settings: Settings, project_id: str, positions: list[NewPosition]) -> None:
    async with budget_service(settings) as service:
        await service.create_version(project_id, "import", changes=ChangeSet(added=positions))  # type: ignore[arg-type]


def _position(number: int, **overrides: Any) -> NewPosition:
    values: dict[str, Any] = {
        "position_number": str(number),
        "code": f"27{number:04d}",
        "description": f"Položka {number}",
        "quantity": Decimal(1),
        "unit_price": Decimal(100),
        **overrides,
    }
    return NewPosition(**values)


async def _list(client: AsyncTestClient[Litestar], user: ApiUser, project_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/projects/{project_id}/positions", headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_sequential_edits_by_ids_from_one_list(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], settings: Settings
) -> None:
    await _seed(settings, project["id"], [_position(i) for i in range(1, 6)])
    first_list = await _list(client, api_user, project["id"])
    url = f"/api/projects/{project['id']}/positions"
    for index, position in enumerate(first_list):
        response = await client.patch(
            f"{url}/{position['id']}", json={"quantity": str(index + 10)}, headers=api_user.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["position"]["lineage_id"] == position["lineage_id"]
        assert response.json()["version"]["version"] == index + 2
    # An id from a middle version works too, and edits the latest state of that position.
    middle = await client.get(f"{url}?version=3", headers=api_user.headers)
    middle_id = middle.json()["items"][0]["id"]
    again = await client.patch(f"{url}/{middle_id}", json={"notes": "znovu"}, headers=api_user.headers)
    assert again.status_code == 200, again.text
    assert again.json()["position"]["quantity"] == "10.0000" and again.json()["position"]["notes"] == "znovu"
    latest = await _list(client, api_user, project["id"])
    assert [Decimal(p["quantity"]) for p in latest] == [Decimal(i + 10) for i in range(5)]


async def test_stale_if_match_is_still_refused_with_an_old_id(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], settings: Settings
) -> None:
    await _seed(settings, project["id"], [_position(1), _position(2)])
    first, second = await _list(client, api_user, project["id"])
    url = f"/api/projects/{project['id']}/positions"
    ok = await client.patch(
        f"{url}/{first['id']}", json={"notes": "a"}, headers={**api_user.headers, "If-Match": '"1"'}
    )
    assert ok.status_code == 200
    stale = await client.patch(
        f"{url}/{second['id']}", json={"notes": "b"}, headers={**api_user.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412 and stale.json()["current_version"] == 2


async def test_a_removed_position_answers_404_naming_the_version(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], settings: Settings
) -> None:
    await _seed(settings, project["id"], [_position(1), _position(2)])
    first, _ = await _list(client, api_user, project["id"])
    url = f"/api/projects/{project['id']}/positions"
    removed = await client.delete(f"{url}/{first['id']}", headers=api_user.headers)
    assert removed.status_code == 200
    for reference in (first["id"], first["lineage_id"]):
        response = await client.patch(f"{url}/{reference}", json={"notes": "x"}, headers=api_user.headers)
        assert response.status_code == 404, response.text
        assert "removed in version 2" in response.json()["detail"]
        assert response.json()["removed_in_version"] == 2
    unknown = await client.patch(
        f"{url}/00000000-0000-0000-0000-000000000001", json={"notes": "x"}, headers=api_user.headers
    )
    assert unknown.status_code == 404 and "does not exist in this project" in unknown.json()["detail"]


async def test_a_replaced_position_answers_409_naming_its_successor(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], settings: Settings
) -> None:
    await _seed(settings, project["id"], [_position(1), _position(2)])
    first, second = sorted(await _list(client, api_user, project["id"]), key=lambda p: p["position_number"])
    # A re-import renumbers the first row and rewords it: no key matches, so it starts a new lineage.
    async with budget_service(settings) as service:
        await service.create_version(
            project["id"],
            "import",
            positions=[_position(9, code=first["code"], description="Jiný popis"), _position(2)],
        )
    url = f"/api/projects/{project['id']}/positions"
    response = await client.patch(f"{url}/{first['id']}", json={"notes": "x"}, headers=api_user.headers)
    assert response.status_code == 409, response.text
    successor = response.json()["replaced_by"]
    assert successor != first["lineage_id"] and "replaced in version 2" in response.json()["detail"]
    retried = await client.patch(f"{url}/{successor}", json={"notes": "x"}, headers=api_user.headers)
    assert retried.status_code == 200
    kept = await client.patch(f"{url}/{second['id']}", json={"notes": "y"}, headers=api_user.headers)
    assert kept.status_code == 200 and kept.json()["position"]["lineage_id"] == second["lineage_id"]


async def test_another_users_position_id_is_not_found(
    client: AsyncTestClient[Litestar],
    api_user: ApiUser,
    other_user: ApiUser,
    project: dict[str, Any],
    settings: Settings,
) -> None:
    await _seed(settings, project["id"], [_position(1)])
    (position,) = await _list(client, api_user, project["id"])
    theirs = await client.post(
        "/api/projects", json={"name": "Cizí", "workflow": "workflow_a"}, headers=other_user.headers
    )
    response = await client.patch(
        f"/api/projects/{theirs.json()['id']}/positions/{position['id']}",
        json={"notes": "x"},
        headers=other_user.headers,
    )
    assert response.status_code == 404
