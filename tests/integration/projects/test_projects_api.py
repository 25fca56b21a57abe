"""Projects over HTTP: CRUD, list filters and pagination, administrators, files removed with the project."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, create_project, csv_bytes, project_body, signed_in_user


async def test_create_project_with_defaults(client: AsyncTestClient[Litestar], api_user: ApiUser) -> None:
    body = project_body(metadata={"investor": "ŘSD"})
    response = await client.post("/api/projects", json=body, headers=api_user.headers)
    assert response.status_code == 201, response.text
    project = response.json()
    assert project["name"] == body["name"]
    assert project["owner_id"] == api_user.id
    assert project["status"] == "draft"
    assert project["progress"] == "0.00"
    assert project["current_version"] == 0
    assert project["total_cost"] == "0.00"
    assert project["metadata"] == {"investor": "ŘSD"}
    fetched = await client.get(f"/api/projects/{project['id']}", headers=api_user.headers)
    assert fetched.json() == project


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"workflow": "workflow_a"}, "name"),
        ({"name": "", "workflow": "workflow_a"}, "name"),
        ({"name": "x"}, "workflow"),
        ({"name": "x", "workflow": "workflow_c"}, "workflow"),
        ({"name": "x", "workflow": "workflow_a", "owner_id": "00000000-0000-0000-0000-000000000000"}, "owner_id"),
    ],
)
async def test_create_project_validation_names_the_field(
    client: AsyncTestClient[Litestar], api_user: ApiUser, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/projects", json=body, headers=api_user.headers)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["errors"], problem
    assert any(field in e["field"] or field in e["message"] for e in problem["errors"]), problem


async def test_patch_changes_only_what_is_sent(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    url = f"/api/projects/{project['id']}"
    renamed = await client.patch(url, json={"name": "Nový název"}, headers=api_user.headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Nový název"
    assert renamed.json()["description"] == project["description"]
    cleared = await client.patch(url, json={"description": None, "metadata": {"a": 1}}, headers=api_user.headers)
    assert cleared.json()["description"] is None
    assert cleared.json()["metadata"] == {"a": 1}
    completed = await client.patch(url, json={"status": "completed"}, headers=api_user.headers)
    assert completed.json()["status"] == "completed"
    assert completed.json()["completed_at"] is not None
    assert (await client.get(url, headers=api_user.headers)).json()["name"] == "Nový název"


@pytest.mark.parametrize("body", [{"status": "finished"}, {"name": ""}, {"progress": 50}])
async def test_patch_validation(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await client.patch(f"/api/projects/{project['id']}", json=body, headers=api_user.headers)
    assert response.status_code == 400


async def test_unknown_project_is_404(client: AsyncTestClient[Litestar], api_user: ApiUser) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"/api/projects/{missing}", headers=api_user.headers)).status_code == 404
    assert (await client.patch(f"/api/projects/{missing}", json={}, headers=api_user.headers)).status_code == 404
    assert (await client.delete(f"/api/projects/{missing}", headers=api_user.headers)).status_code == 404
    assert (await client.get("/api/projects/not-a-uuid", headers=api_user.headers)).status_code in (400, 404)


async def test_delete_removes_the_project_and_its_files(
    client: AsyncTestClient[Litestar], app: Litestar, api_user: ApiUser, project: dict[str, Any]
) -> None:
    upload = await client.post(
        f"/api/projects/{project['id']}/documents", files={"file": ("b.csv", csv_bytes())}, headers=api_user.headers
    )
    assert upload.status_code == 201, upload.text
    storage = Path(app.state.settings.STORAGE_DIR).absolute() / "projects" / project["id"]  # noqa: ASYNC240
    assert storage.is_dir() and any(storage.iterdir())
    response = await client.delete(f"/api/projects/{project['id']}", headers=api_user.headers)
    assert response.status_code == 204
    assert not storage.exists()
    assert (await client.get(f"/api/projects/{project['id']}", headers=api_user.headers)).status_code == 404
    document = upload.json()["document"]["id"]
    assert (await client.get(f"/api/documents/{document}", headers=api_user.headers)).status_code == 404


async def test_list_is_own_projects_newest_first_and_paginated(client: AsyncTestClient[Litestar]) -> None:
    owner = await signed_in_user(client)
    stranger = await signed_in_user(client)
    created = [await create_project(client, owner, name=f"Stavba {i}") for i in range(5)]
    await create_project(client, stranger)
    page = await client.get("/api/projects", params={"limit": 2, "offset": 1}, headers=owner.headers)
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 5
    assert body["limit"] == 2
    assert body["offset"] == 1
    assert [p["id"] for p in body["items"]] == [created[3]["id"], created[2]["id"]]
    everything = (await client.get("/api/projects", headers=owner.headers)).json()
    assert [p["id"] for p in everything["items"]] == [p["id"] for p in reversed(created)]


async def test_list_filters(client: AsyncTestClient[Litestar]) -> None:
    owner = await signed_in_user(client)
    bridge = await create_project(client, owner, name="Most Vltava", description="ocelová konstrukce")
    tunnel = await create_project(
        client, owner, name="Tunel", description="Ražba MOSTNÍHO přivaděče", workflow="workflow_b"
    )
    await client.patch(f"/api/projects/{tunnel['id']}", json={"status": "auditing"}, headers=owner.headers)

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/api/projects", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await ids(status="auditing") == [tunnel["id"]]
    assert await ids(status="draft") == [bridge["id"]]
    assert await ids(workflow="workflow_b") == [tunnel["id"]]
    assert sorted(await ids(q="most")) == sorted([bridge["id"], tunnel["id"]])  # name or description, any case
    assert await ids(q="ocelová") == [bridge["id"]]
    assert await ids(q="100%") == []
    created = datetime.datetime.fromisoformat(tunnel["created_at"])
    assert await ids(created_after=(created - datetime.timedelta(microseconds=1)).isoformat()) == [tunnel["id"]]
    assert await ids(created_before=created.isoformat()) == [bridge["id"]]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 100000}, {"offset": -1}, {"status": "nope"}])
async def test_list_refuses_bad_parameters(
    client: AsyncTestClient[Litestar], api_user: ApiUser, params: dict[str, Any]
) -> None:
    response = await client.get("/api/projects", params=params, headers=api_user.headers)
    assert response.status_code == 400


async def test_administrators_see_all_projects(
    client: AsyncTestClient[Litestar], api_user: ApiUser, admin_user: ApiUser, project: dict[str, Any]
) -> None:
    listing = await client.get("/api/projects", params={"limit": 500}, headers=admin_user.headers)
    assert project["id"] in [p["id"] for p in listing.json()["items"]]
    fetched = await client.get(f"/api/projects/{project['id']}", headers=admin_user.headers)
    assert fetched.status_code == 200
    renamed = await client.patch(f"/api/projects/{project['id']}", json={"name": "Admin"}, headers=admin_user.headers)
    assert renamed.status_code == 200
    assert (await client.get(f"/api/projects/{project['id']}", headers=api_user.headers)).json()["name"] == "Admin"
