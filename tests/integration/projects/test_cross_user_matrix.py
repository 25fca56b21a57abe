"""Every route on another user's project, document, version, position or chat answers 404 (never 403),
changes nothing, and the same routes work for the owner and for administrators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, add_position, create_project, csv_bytes, position_body, signed_in_user


@dataclass
class OwnedWorld:
    """An owner's project with one of everything: a version, a position, a document, a chat message."""

    owner: ApiUser
    project_id: str
    lineage_id: str
    position_id: str
    document_id: str


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {project}, {lineage}, {position}, {document}
    json: dict[str, Any] | None = None
    upload: bool = False
    changes: bool = False

    def url(self, world: OwnedWorld) -> str:
        return self.path.format(
            project=world.project_id, lineage=world.lineage_id, position=world.position_id, document=world.document_id
        )

    async def call(self, client: AsyncTestClient[Litestar], user: ApiUser, world: OwnedWorld) -> Any:
        kwargs: dict[str, Any] = {"headers": user.headers}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.upload:
            kwargs["files"] = {"file": ("other.csv", csv_bytes(7))}
        return await client.request(self.method, self.url(world), **kwargs)


ROUTES = [
    Route("GET", "/api/projects/{project}"),
    Route("PATCH", "/api/projects/{project}", json={"name": "taken over"}, changes=True),
    Route("DELETE", "/api/projects/{project}", changes=True),
    Route("POST", "/api/projects/{project}/documents", upload=True, changes=True),
    Route("GET", "/api/projects/{project}/documents"),
    Route("GET", "/api/documents/{document}"),
    Route("GET", "/api/documents/{document}/content"),
    Route("GET", "/api/projects/{project}/versions"),
    Route("GET", "/api/projects/{project}/versions/1"),
    Route("GET", "/api/projects/{project}/positions"),
    Route("GET", "/api/projects/{project}/positions?version=1"),
    Route("POST", "/api/projects/{project}/positions", json=position_body(), changes=True),
    Route("PATCH", "/api/projects/{project}/positions/{lineage}", json={"quantity": "1"}, changes=True),
    Route("PATCH", "/api/projects/{project}/positions/{position}", json={"quantity": "1"}, changes=True),
    Route("DELETE", "/api/projects/{project}/positions/{lineage}", changes=True),
    Route("GET", "/api/projects/{project}/chat"),
    Route("POST", "/api/projects/{project}/chat", json={"message": "Ahoj"}, changes=True),
]


@pytest.fixture
async def world(client: AsyncTestClient[Litestar]) -> OwnedWorld:
    owner = await signed_in_user(client)
    project = await create_project(client, owner)
    added = await add_position(client, owner, project["id"])
    upload = await client.post(
        f"/api/projects/{project['id']}/documents", files={"file": ("r.csv", csv_bytes())}, headers=owner.headers
    )
    assert upload.status_code == 201, upload.text
    chat = await client.post(f"/api/projects/{project['id']}/chat", json={"message": "Moje"}, headers=owner.headers)
    assert chat.status_code == 201
    return OwnedWorld(
        owner=owner,
        project_id=project["id"],
        lineage_id=added["position"]["lineage_id"],
        position_id=added["position"]["id"],
        document_id=upload.json()["document"]["id"],
    )


async def _snapshot(client: AsyncTestClient[Litestar], world: OwnedWorld) -> dict[str, Any]:
    headers = world.owner.headers
    base = f"/api/projects/{world.project_id}"
    return {
        "project": (await client.get(base, headers=headers)).json(),
        "documents": (await client.get(f"{base}/documents", headers=headers)).json()["total"],
        "positions": (await client.get(f"{base}/positions", headers=headers)).json(),
        "chat": (await client.get(f"{base}/chat", headers=headers)).json()["total"],
    }


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_another_users_resource_is_404_and_untouched(
    client: AsyncTestClient[Litestar], world: OwnedWorld, route: Route
) -> None:
    stranger = await signed_in_user(client)
    before = await _snapshot(client, world)
    response = await route.call(client, stranger, world)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _snapshot(client, world) == before


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_the_owner_and_an_administrator_may_use_the_route(
    client: AsyncTestClient[Litestar], world: OwnedWorld, admin_user: ApiUser, route: Route
) -> None:
    for user in (admin_user, world.owner) if not route.changes else (admin_user,):
        response = await route.call(client, user, world)
        assert response.status_code < 300, (user.role, response.text)
