"""Jobs started over HTTP run in a real worker process; the row is the record of truth."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from app.config import Settings
from tests.support.live import (
    LiveProcess,
    LiveUser,
    create_live_user,
    create_project_with_budget,
    run_sql,
    wait_for,
)


async def test_recalculate_completes_and_is_idempotent(
    client: AsyncTestClient[Litestar], live_settings: Settings, worker: LiveProcess, owner: LiveUser
) -> None:
    project_id = await create_project_with_budget(live_settings, owner, versions=2, positions_per_version=3)

    started = await client.post(f"/api/projects/{project_id}/recalculate", headers=owner.headers)
    assert started.status_code == 202, started.text
    body = started.json()
    assert set(body) == {"job_id", "status"} and body["status"] == "queued"
    job_id = body["job_id"]

    async def finished() -> dict | None:
        response = await client.get(f"/api/jobs/{job_id}", headers=owner.headers)
        assert response.status_code == 200, response.text
        job = response.json()
        return job if job["status"] in ("completed", "failed") else None

    job = await wait_for(finished, timeout=20, what="recalculate to finish")
    assert job["status"] == "completed", job
    for key in (
        "id",
        "job_type",
        "status",
        "progress",
        "current_step",
        "total_steps",
        "retry_count",
        "result",
        "error",
        "created_at",
        "started_at",
        "completed_at",
    ):
        assert key in job
    assert job["progress"] == 1.0 and job["retry_count"] == 0 and job["error"] is None
    # version 2 has 4 positions: 1000.50 + 2001.00 + 3001.50 + 4002.00
    assert job["result"]["total_positions"] == 4
    assert job["result"]["total_cost"] == "10005.00"

    [project] = await run_sql(
        live_settings,
        "SELECT total_positions, total_cost, current_version, issues_count_red, issues_count_amber, "
        "issues_count_green FROM projects WHERE id = :id",
        id=project_id,
    )
    assert tuple(project) == (4, 10005, 2, 2, 1, 1)
    versions = await run_sql(
        live_settings,
        "SELECT version, total_positions, total_cost, delta_cost FROM budget_versions "
        "WHERE project_id = :id ORDER BY version",
        id=project_id,
    )
    assert [tuple(v) for v in versions] == [(1, 3, 6003, 6003), (2, 4, 10005, 4002)]

    # A second run leaves the same result: no new versions, same totals.
    again = await client.post(f"/api/projects/{project_id}/recalculate", headers=owner.headers)
    job_id_2 = again.json()["job_id"]

    async def second_done() -> bool:
        response = await client.get(f"/api/jobs/{job_id_2}", headers=owner.headers)
        return response.json()["status"] == "completed"

    await wait_for(second_done, timeout=20, what="second recalculate")
    assert [
        tuple(v)
        for v in await run_sql(
            live_settings,
            "SELECT version, total_positions, total_cost, delta_cost FROM budget_versions "
            "WHERE project_id = :id ORDER BY version",
            id=project_id,
        )
    ] == [tuple(v) for v in versions]

    listed = await client.get(f"/api/projects/{project_id}/jobs", headers=owner.headers)
    assert listed.status_code == 200
    page = listed.json()
    assert page["total"] == 2 and [item["id"] for item in page["items"]] == [job_id_2, job_id]


async def test_get_job_falls_back_to_the_row_when_redis_forgot_it(
    client: AsyncTestClient[Litestar], live_settings: Settings, worker: LiveProcess, owner: LiveUser
) -> None:
    project_id = await create_project_with_budget(live_settings, owner, versions=1)
    job_id = (await client.post(f"/api/projects/{project_id}/recalculate", headers=owner.headers)).json()["job_id"]

    async def completed() -> bool:
        return (await client.get(f"/api/jobs/{job_id}", headers=owner.headers)).json()["status"] == "completed"

    await wait_for(completed, timeout=20, what="job to complete")
    redis = Redis.from_url(live_settings.redis_url)
    try:
        assert await redis.delete(f"job:{job_id}:status") == 1
        response = await client.get(f"/api/jobs/{job_id}", headers=owner.headers)
        assert response.status_code == 200 and response.json()["status"] == "completed"
        assert await redis.exists(f"job:{job_id}:status") == 1  # re-filled from the row
    finally:
        await redis.aclose()


async def test_only_the_owner_sees_a_job(
    client: AsyncTestClient[Litestar], live_settings: Settings, owner: LiveUser, stranger: LiveUser
) -> None:
    project_id = await create_project_with_budget(live_settings, owner, versions=1)
    job_id = (await client.post(f"/api/projects/{project_id}/recalculate", headers=owner.headers)).json()["job_id"]

    assert (await client.get(f"/api/jobs/{job_id}", headers=stranger.headers)).status_code == 404
    assert (await client.post(f"/api/jobs/{job_id}/cancel", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/api/jobs/{job_id}/artifact", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/api/projects/{project_id}/jobs", headers=stranger.headers)).status_code == 404
    assert (await client.post(f"/api/projects/{project_id}/recalculate", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/api/jobs/{uuid.uuid4()}", headers=owner.headers)).status_code == 404
    assert (await client.get(f"/api/jobs/{job_id}")).status_code == 401
    assert (await client.get(f"/api/jobs/{job_id}", headers=owner.headers)).status_code == 200


async def test_the_saq_monitor_is_for_administrators_only(
    client: AsyncTestClient[Litestar], live_settings: Settings, owner: LiveUser
) -> None:
    admin = await create_live_user(live_settings, role="admin")
    assert (await client.get("/saq/api/queues")).status_code == 401
    assert (await client.get("/saq/api/queues", headers=owner.headers)).status_code == 403
    response = await client.get("/saq/api/queues", headers=admin.headers)
    assert response.status_code == 200, response.text
    names = {queue["name"] for queue in response.json()["queues"]}
    assert names == {f"{live_settings.REDIS_NAMESPACE}:{name}" for name in ("high", "default", "low")}
    assert (await client.get("/saq", headers=admin.headers)).status_code == 200
