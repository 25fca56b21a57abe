"""Starting an export over HTTP: a version the project does not have is refused at once, not by a failed job."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.db.models import BackgroundJob
from tests.support.api import ApiUser, add_position, run_sql

Client = AsyncTestClient[Litestar]


async def _export_jobs(settings: Any, project_id: str) -> list[Any]:
    return await run_sql(settings, select(BackgroundJob.id).where(BackgroundJob.project_id == uuid.UUID(project_id)))


async def test_an_export_of_a_missing_version_is_refused_and_queues_nothing(
    client: Client, api_user: ApiUser, project: dict[str, Any], settings: Any
) -> None:
    await add_position(client, api_user, project["id"])  # version 1

    missing = await client.post(
        f"/api/projects/{project['id']}/export", json={"format": "xlsx", "version": 99}, headers=api_user.headers
    )

    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "99" in missing.json()["detail"]
    assert [error["field"] for error in missing.json()["errors"]] == ["version"]
    assert await _export_jobs(settings, project["id"]) == []

    existing = await client.post(
        f"/api/projects/{project['id']}/export", json={"format": "csv", "version": 1}, headers=api_user.headers
    )
    assert existing.status_code == 202, existing.text


async def test_an_export_of_a_project_without_a_budget_is_refused(
    client: Client, api_user: ApiUser, project: dict[str, Any], settings: Any
) -> None:
    response = await client.post(f"/api/projects/{project['id']}/export", headers=api_user.headers)

    assert response.status_code == 404, response.text
    assert "no budget" in response.json()["detail"]
    assert await _export_jobs(settings, project["id"]) == []
