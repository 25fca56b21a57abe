"""Retries, failure, cancellation and the commit-then-enqueue rule, with a real worker process."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.config import Settings
from app.db.models import Project
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.services import submit_job
from tests.support.job_types import starts_key
from tests.support.live import (
    LiveProcess,
    LiveUser,
    create_project_with_budget,
    job_row,
    redis_get,
    run_sql,
    saq_status,
    submit_test_job,
    wait_for,
    wait_for_job_status,
)


async def test_a_job_that_always_fails_ends_failed_after_its_retries(
    live_settings: Settings, worker: LiveProcess, owner: LiveUser
) -> None:
    job_id = await submit_test_job(live_settings, "test_fail", user=owner)
    # About 5 s on a busy 2-core machine; the deadline leaves room for a far busier one.
    row = await wait_for_job_status(live_settings, job_id, ("failed",), timeout=60)
    assert row["retry_count"] == 3 == row["max_retries"]  # 4 attempts in all
    assert "always fails" in row["error"]
    assert row["completed_at"] is not None
    assert await wait_for(lambda: _saq_ended(live_settings, job_id), timeout=5) == "failed"
    # The retries were SAQ's own, not a stalled job adopted by the reconciler.
    assert not [
        line for line in worker.log_path.read_text().splitlines() if "reconciled" in line and str(job_id) in line
    ]


async def _saq_ended(settings: Settings, job_id: uuid.UUID) -> str | None:
    status = await saq_status(settings, job_id)
    return status if status in ("complete", "failed", "aborted") else None


async def test_cancel_a_running_job_rolls_its_work_back(
    client: AsyncTestClient[Litestar], live_settings: Settings, worker: LiveProcess, owner: LiveUser
) -> None:
    project_id = await create_project_with_budget(live_settings, owner, versions=1, positions_per_version=1)
    job_id = await submit_test_job(
        live_settings, "test_sleep", user=owner, project_id=project_id, payload={"seconds": 20, "steps": 200}
    )

    async def running_with_progress() -> bool:
        row = await job_row(live_settings, job_id)
        return row["status"] == "running" and row["progress"] > 0

    await wait_for(running_with_progress, timeout=15, what="the job to run")
    cancelled = await client.post(f"/api/jobs/{job_id}/cancel", headers=owner.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    assert await wait_for(lambda: _saq_ended(live_settings, job_id), timeout=10) in ("aborted", "complete")
    row = await job_row(live_settings, job_id)
    assert row["status"] == "cancelled" and row["result_data"] is None
    [(metadata,)] = await run_sql(live_settings, "SELECT metadata FROM projects WHERE id = :id", id=project_id)
    assert "test_effects" not in metadata  # the job's transaction never committed
    assert await redis_get(live_settings, starts_key(job_id)) == b"1"

    again = await client.post(f"/api/jobs/{job_id}/cancel", headers=owner.headers)
    assert again.status_code == 409
    shown = await client.get(f"/api/jobs/{job_id}", headers=owner.headers)
    assert shown.json()["status"] == "cancelled"


@pytest.fixture
def idle_settings(live_settings: Settings) -> Settings:
    """A namespace no worker listens to: jobs submitted here stay queued."""
    return msgspec.structs.replace(live_settings, REDIS_NAMESPACE=f"{live_settings.REDIS_NAMESPACE}-idle")


@pytest.fixture
def idle_app(idle_settings: Settings) -> Litestar:
    from app.server import build_app

    return build_app(idle_settings)


async def test_cancel_a_queued_job_takes_it_off_its_queue(
    idle_app: Litestar, idle_settings: Settings, owner: LiveUser
) -> None:
    job_id = await submit_test_job(idle_settings, "test_sleep", user=owner, payload={"seconds": 1})
    assert await saq_status(idle_settings, job_id) == "queued"
    async with AsyncTestClient(app=idle_app) as client:
        response = await client.post(f"/api/jobs/{job_id}/cancel", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert await saq_status(idle_settings, job_id) == "aborted"
    queues = JobQueues(idle_settings)
    try:
        assert await queues.queue("default").count("queued") == 0
    finally:
        await queues.close()
    assert (await job_row(idle_settings, job_id))["status"] == "cancelled"


async def test_no_job_is_enqueued_when_the_callers_transaction_fails(idle_settings: Settings, owner: LiveUser) -> None:
    engine = create_async_engine(idle_settings.database_url)
    queues = JobQueues(idle_settings)
    try:
        before = await queues.queue("default").count("queued")
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            session.add(Project(owner_id=uuid.uuid4(), name="owner does not exist"))  # FK violation at commit
            with pytest.raises(IntegrityError):
                await submit_job(
                    session,
                    job_type="recalculate",
                    project_id=None,
                    user_id=owner.id,
                    payload={},
                    settings=idle_settings,
                    queues=queues,
                )
        assert await queues.queue("default").count("queued") == before
        rows = await run_sql(idle_settings, "SELECT count(*) FROM background_jobs WHERE user_id = :u", u=owner.id)
        assert rows[0][0] == 0
    finally:
        await queues.close()
        await engine.dispose()
