"""Workflow A after parsing, with a real worker process: enrich → (queued by it) audit → the report."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.models import BackgroundJob, Project
from tests.support.api import ApiUser, create_project
from tests.support.audit_budgets import PRICED_BUDGET, build_budget
from tests.support.job_runs import Harness
from tests.support.live import LiveProcess, live_env, start_worker, wait_for_job_status, wait_for_worker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def worker(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveProcess]:
    process = start_worker(live_env(settings), tmp_path_factory.mktemp("audit-worker"))
    try:
        await wait_for_worker(settings, process)
        yield process
    finally:
        process.stop()


async def test_enrich_then_audit_through_the_worker(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness, worker: LiveProcess, settings: Settings
) -> None:
    created = await create_project(client, api_user)
    [project] = await harness.scalars(select(Project).where(Project.id == uuid.UUID(created["id"])))
    await build_budget(harness, PRICED_BUDGET, project=project)

    started = await client.post(f"/api/projects/{project.id}/enrich", headers=api_user.headers)
    assert started.status_code == 202, started.text
    try:
        enrich = await wait_for_job_status(settings, started.json()["job_id"], ("completed", "failed"), timeout=60)
        assert enrich["status"] == "completed", enrich["error"]
        [audit_job_id] = await harness.scalars(
            select(BackgroundJob.id).where(
                BackgroundJob.project_id == project.id, BackgroundJob.job_type == "audit_project"
            )
        )
        audit = await wait_for_job_status(settings, audit_job_id, ("completed", "failed"), timeout=60)
    except BaseException:
        print(worker.log_tail(200))
        raise
    assert audit["status"] == "completed", audit["error"]
    assert audit["result_data"]["results_written"] == len(PRICED_BUDGET) * 6

    report = (await client.get(f"/api/projects/{project.id}/audit", headers=api_user.headers)).json()
    state = (await client.get(f"/api/projects/{project.id}", headers=api_user.headers)).json()
    job = (await client.get(f"/api/jobs/{audit_job_id}", headers=api_user.headers)).json()

    summary = report["summary"]
    assert {key: summary[key] for key in ("positions", "red", "amber", "green", "needs_review", "priced")} == {
        "positions": 5,
        "red": 3,
        "amber": 1,
        "green": 1,
        "needs_review": 3,
        "priced": True,
    }
    assert (state["status"], state["issues_count_red"], state["issues_count_green"]) == ("completed", 3, 1)
    assert state["progress"] == "100.00"
    assert job["status"] == "completed" and job["result"]["positions"] == 5
