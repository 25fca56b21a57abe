"""No job is lost: a worker killed mid-job, Redis restarted with jobs queued, and queue priority."""

from __future__ import annotations

import asyncio
import itertools
import signal
import uuid
from pathlib import Path

import msgspec
import pytest

from app.config import Settings
from app.lib import embedded
from tests.support.job_types import starts_key
from tests.support.live import (
    LiveProcess,
    LiveUser,
    create_project_with_budget,
    job_row,
    live_env,
    redis_get,
    run_sql,
    saq_status,
    start_worker,
    submit_test_job,
    wait_for,
    wait_for_job_status,
    wait_for_worker,
)
from tests.support.servers import free_port


@pytest.fixture(autouse=True)
async def retire_leftover_jobs(live_settings: Settings) -> None:
    """Workers adopt every stalled row of their database (one namespace per database in production);
    rows other test modules left queued in this session's database must not compete with ours."""
    await run_sql(
        live_settings,
        "UPDATE background_jobs SET status = 'cancelled', error = 'left over by an earlier test' "
        "WHERE status IN ('queued', 'running')",
    )


async def start_slow_job(settings: Settings, owner: LiveUser, *, seconds: float) -> tuple[uuid.UUID, uuid.UUID]:
    """A project and a `test_sleep` job on it that a worker of `settings` has started and reports progress on."""
    project_id = await create_project_with_budget(settings, owner, versions=1, positions_per_version=1)
    job_id = await submit_test_job(
        settings, "test_sleep", user=owner, project_id=project_id, payload={"seconds": seconds, "steps": 20}
    )

    async def running() -> bool:
        row = await job_row(settings, job_id)
        return row["status"] == "running" and row["progress"] > 0

    await wait_for(running, timeout=15, what="the job to start")
    return project_id, job_id


def own_namespace(settings: Settings, name: str) -> Settings:
    """Settings whose queues only this test's workers listen to."""
    return msgspec.structs.replace(settings, REDIS_NAMESPACE=f"{settings.REDIS_NAMESPACE}-{name}")


async def test_a_job_of_a_killed_worker_is_picked_up_again_and_takes_effect_once(
    live_settings: Settings, live_logs: Path, owner: LiveUser
) -> None:
    settings = own_namespace(live_settings, "kill")
    env = live_env(settings, WORKER_CONCURRENCY="1")
    first = start_worker(env, live_logs, name="worker-to-kill")
    second = None
    try:
        await wait_for_worker(settings, first)
        project_id, job_id = await start_slow_job(settings, owner, seconds=2)
        first.kill()
        second = start_worker(env, live_logs, name="worker-taking-over")

        row = await wait_for_job_status(settings, job_id, ("completed", "failed"), timeout=40)
        assert row["status"] == "completed", (row, second.log_tail())
        assert row["retry_count"] == 1
        assert await redis_get(settings, starts_key(job_id)) == b"2"  # it ran twice ...
        [(metadata,)] = await run_sql(settings, "SELECT metadata FROM projects WHERE id = :id", id=project_id)
        assert metadata["test_effects"] == 1  # ... and took effect once
    finally:
        first.kill()
        if second is not None:
            second.stop()


async def test_jobs_queued_when_redis_restarts_all_complete(
    live_settings: Settings, live_logs: Path, owner: LiveUser, tmp_path: Path
) -> None:
    port = free_port()
    embedded.start_redis(tmp_path, port, persist=False)
    worker = None
    try:
        settings = msgspec.structs.replace(
            own_namespace(live_settings, "restart"), REDIS_URL=f"redis://127.0.0.1:{port}/0"
        )
        job_ids = [
            await submit_test_job(settings, "test_sleep", user=owner, payload={"seconds": 0.2, "steps": 2})
            for _ in range(3)
        ]
        assert [await saq_status(settings, job_id) for job_id in job_ids] == ["queued"] * 3

        embedded.stop_redis(tmp_path)
        embedded.start_redis(tmp_path, port, persist=False)  # comes back empty: the queue is gone
        assert [await saq_status(settings, job_id) for job_id in job_ids] == [None] * 3

        worker = start_worker(live_env(settings), live_logs, name="worker-after-restart")
        for job_id in job_ids:
            row = await wait_for_job_status(settings, job_id, ("completed", "failed"), timeout=30)
            assert row["status"] == "completed", worker.log_tail()
            assert await saq_status(settings, job_id) == "complete"  # run from the restarted Redis
    finally:
        if worker is not None:
            worker.stop()
        embedded.stop_redis(tmp_path)


async def test_a_high_job_queued_behind_low_ones_starts_first(
    live_settings: Settings, live_logs: Path, owner: LiveUser
) -> None:
    settings = own_namespace(live_settings, "priority")
    low = [
        await submit_test_job(settings, "test_sleep", user=owner, payload={"seconds": 0.1, "steps": 1}, queue="low")
        for _ in range(5)
    ]
    default = await submit_test_job(settings, "test_sleep", user=owner, payload={"seconds": 0.1, "steps": 1})
    high = await submit_test_job(settings, "test_sleep", user=owner, payload={"seconds": 0.1, "steps": 1}, queue="high")
    worker = start_worker(live_env(settings, WORKER_CONCURRENCY="1"), live_logs, name="worker-priority")
    try:
        rows = {
            job_id: await wait_for_job_status(settings, job_id, ("completed",), timeout=30)
            for job_id in [high, default, *low]
        }
    finally:
        worker.stop()
    order = sorted(rows, key=lambda job_id: rows[job_id]["started_at"])
    assert order[0] == high and order[1] == default, order
    assert set(order[2:]) == set(low)
    # one slot: no two jobs ran at the same time
    spans = sorted((rows[j]["started_at"], rows[j]["completed_at"]) for j in rows)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


async def test_unknown_job_type_fails_at_once_without_retries(
    live_settings: Settings, worker: LiveProcess, owner: LiveUser
) -> None:
    job_id = await submit_test_job(live_settings, "no_such_job_type", user=owner)
    row = await wait_for_job_status(live_settings, job_id, ("failed",), timeout=20)
    assert row["retry_count"] == 0 and "no handler" in row["error"]


async def test_a_worker_stopped_with_sigterm_hands_its_job_back_at_once(
    live_settings: Settings, live_logs: Path, owner: LiveUser
) -> None:
    """A job longer than WORKER_SHUTDOWN_GRACE: the stopping worker exits soon after the grace, the job
    is back on its queue and its row `queued` right then; another worker completes it, effect once."""
    settings = own_namespace(live_settings, "sigterm")
    env = live_env(settings, WORKER_CONCURRENCY="1", WORKER_SHUTDOWN_GRACE="1")
    stopping = start_worker(env, live_logs, name="worker-sigterm")
    taking_over = None
    try:
        await wait_for_worker(settings, stopping)
        project_id, job_id = await start_slow_job(settings, owner, seconds=60)
        stopping.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(stopping.process.wait, 15)  # grace 1 s + hand-back, far below a heartbeat sweep
        assert (await job_row(settings, job_id))["status"] == "queued", stopping.log_tail()
        assert await saq_status(settings, job_id) == "queued"

        taking_over = start_worker(live_env(settings, WORKER_CONCURRENCY="1"), live_logs, name="worker-after-sigterm")

        async def restarted() -> bool:
            return await redis_get(settings, starts_key(job_id)) == b"2"

        await wait_for(restarted, timeout=20, what="the job to start on the other worker")
        await run_sql(settings, "UPDATE background_jobs SET status = 'cancelled' WHERE id = :id", id=job_id)
        row = await wait_for_job_status(settings, job_id, ("cancelled",), timeout=20)
        assert row["status"] == "cancelled"
        [(metadata,)] = await run_sql(settings, "SELECT metadata FROM projects WHERE id = :id", id=project_id)
        assert metadata.get("test_effects") is None  # neither the interrupted nor the cancelled run committed
    finally:
        stopping.kill()
        if taking_over is not None:
            taking_over.stop()
