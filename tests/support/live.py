"""Real processes for the jobs and live-events tests: granian API processes and `app worker`s.

Each process gets the test run's DATABASE_URL / REDIS_URL / REDIS_NAMESPACE (from the `servers`
fixture) plus test timings (2 s heartbeat, fast retries) and JOB_MODULES naming the test job types.
Output goes to a log file per process, printed when a test fails. Waiting is always polling with a
deadline (`wait_for`), never a bare sleep.

Users are created directly (a `users` row + a session in Redis written by app.domain.accounts.sessions)
so that no test depends on another domain's endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from tests.support.servers import free_port

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]

TEST_JOB_ENV = {
    "JOB_MODULES": "tests.support.job_types",
    "SAQ_JOB_HEARTBEAT": "2",
    "SAQ_RETRY_BACKOFF": "0.1",
    "SAQ_MAX_RETRIES": "3",
    "SAQ_JOB_TIMEOUT": "60",
    "WORKER_CONCURRENCY": "4",
    "RATE_LIMIT_DEFAULT": "100000/minute",
    "RATE_LIMIT_AUTH": "100000/minute",
    "RATE_LIMIT_UPLOAD": "100000/minute",
    "RATE_LIMIT_JOBS": "100000/minute",
    "WEBSOCKET_PING_TIMEOUT": "30",
    "LOG_LEVEL": "INFO",
}


def with_live_timings(settings: Settings, **overrides: Any) -> Settings:
    """The test process's own settings with the timings its live processes get (TEST_JOB_ENV)."""
    import msgspec

    values: dict[str, Any] = {
        "SAQ_JOB_HEARTBEAT": int(TEST_JOB_ENV["SAQ_JOB_HEARTBEAT"]),
        "SAQ_RETRY_BACKOFF": float(TEST_JOB_ENV["SAQ_RETRY_BACKOFF"]),
        "SAQ_MAX_RETRIES": int(TEST_JOB_ENV["SAQ_MAX_RETRIES"]),
        "SAQ_JOB_TIMEOUT": int(TEST_JOB_ENV["SAQ_JOB_TIMEOUT"]),
        "RATE_LIMIT_DEFAULT": "100000/minute",
        "RATE_LIMIT_JOBS": "100000/minute",
        **overrides,
    }
    return msgspec.structs.replace(settings, **values)


def live_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "REDIS_NAMESPACE": settings.REDIS_NAMESPACE,
            "PYTHONPATH": str(ROOT / "src"),
            **TEST_JOB_ENV,
            **overrides,
        }
    )
    return env


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or probe}; last value: {last!r}")


@dataclass
class LiveProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the process and its children (a crashed machine: nothing cleans up, nothing survives;
        a granian master killed alone would leave its worker serving on the port)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.alive():
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a graceful stop); whatever of its process group is still there after `timeout` is killed."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _spawn(name: str, command: list[str], env: Mapping[str, str], log_dir: Path) -> LiveProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log_path.open("wb") as log:
        # Its own process group (session), so that kill() reaches the children too.
        process = subprocess.Popen(
            command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
    return LiveProcess(name=name, process=process, log_path=log_path)


def start_worker(env: Mapping[str, str], log_dir: Path, name: str = "worker") -> LiveProcess:
    return _spawn(name, [sys.executable, "-m", "app", "worker"], env, log_dir)


@dataclass
class LiveApi:
    process: LiveProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


def start_api(env: Mapping[str, str], log_dir: Path, name: str = "api") -> LiveApi:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "app.asgi:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--ws",
        "--log-level",
        "warning",
    ]
    return LiveApi(process=_spawn(name, command, env, log_dir), port=port)


async def wait_until_ready(api: LiveApi, timeout: float = 90.0) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=2.0) as client:

        async def ready() -> bool:
            if not api.process.alive():
                raise AssertionError(f"{api.process.name} exited:\n{api.process.log_tail()}")
            try:
                return (await client.get("/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_for(ready, timeout=timeout, interval=0.1, what=f"{api.process.name} /ready")


async def wait_for_worker(settings: Settings, worker: LiveProcess, timeout: float = 30.0) -> None:
    """Ready when the worker has registered itself with SAQ (its `worker_info` in Redis)."""
    redis = Redis.from_url(settings.redis_url)
    pattern = f"saq:{settings.REDIS_NAMESPACE}:high:worker_info:*"
    before = set(await redis.keys(pattern))
    try:

        async def registered() -> bool:
            if not worker.alive():
                raise AssertionError(f"{worker.name} exited:\n{worker.log_tail()}")
            return bool(set(await redis.keys(pattern)) - before)

        await wait_for(registered, timeout=timeout, interval=0.1, what=f"{worker.name} to register")
    finally:
        await redis.aclose()


@dataclass
class LiveUser:
    id: uuid.UUID
    email: str
    token: str
    role: str = "user"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def create_live_user(settings: Settings, *, role: str = "user") -> LiveUser:
    """A `users` row and a session in Redis, exactly as login would store it."""
    from app.domain.accounts.sessions import create_session

    user_id = uuid.uuid4()
    email = f"live-{user_id.hex[:10]}@example.cz"
    await run_sql(
        settings,
        "INSERT INTO users (id, email, password_hash, role, status, email_verified) "
        "VALUES (:id, :email, 'not-a-hash', :role, 'active', true)",
        id=user_id,
        email=email,
        role=role,
    )
    redis = Redis.from_url(settings.redis_url)
    try:
        token, _ = await create_session(
            redis, user_id=user_id, email=email, role=role, status="active", ttl_seconds=3600
        )
    finally:
        await redis.aclose()
    return LiveUser(id=user_id, email=email, token=token, role=role)


async def create_project_with_budget(
    settings: Settings, owner: LiveUser, *, versions: int = 2, positions_per_version: int = 3
) -> uuid.UUID:
    """A project with budget versions and positions, its cached aggregates deliberately stale (zero)."""
    project_id = uuid.uuid4()
    await run_sql(
        settings,
        "INSERT INTO projects (id, user_id, name) VALUES (:id, :owner, :name)",
        id=project_id,
        owner=owner.id,
        name=f"Most {project_id.hex[:6]}",
    )
    statuses = ["RED", "AMBER", "GREEN"]
    for number in range(1, versions + 1):
        version_id = uuid.uuid4()
        await run_sql(
            settings,
            "INSERT INTO budget_versions (id, project_id, version, trigger_type) VALUES (:id, :project, :n, 'import')",
            id=version_id,
            project=project_id,
            n=number,
        )
        for index in range(positions_per_version + number - 1):
            await run_sql(
                settings,
                "INSERT INTO positions (project_id, version_id, description, total_price, status, source) "
                "VALUES (:project, :version, :description, :total, :status, 'uploaded')",
                project=project_id,
                version=version_id,
                description=f"Beton C30/37 {index}",
                total=Decimal("1000.50") * (index + 1),
                status=statuses[index % 3],
            )
    return project_id


async def run_sql(settings: Settings, statement: str, **params: Any) -> list[Any]:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def job_row(settings: Settings, job_id: uuid.UUID | str) -> dict[str, Any]:
    rows = await run_sql(settings, "SELECT * FROM background_jobs WHERE id = :id", id=uuid.UUID(str(job_id)))
    assert rows, f"no job row {job_id}"
    return dict(rows[0]._mapping)


async def wait_for_job_status(
    settings: Settings, job_id: uuid.UUID | str, statuses: tuple[str, ...], timeout: float = 30.0
) -> dict[str, Any]:
    """Poll the job's row until its status is one of `statuses`; a timeout names where the job stood."""
    seen: dict[str, Any] = {}

    async def probe() -> dict[str, Any] | None:
        row = await job_row(settings, job_id)
        seen.update(row)
        return row if row["status"] in statuses else None

    try:
        return await wait_for(probe, timeout=timeout, interval=0.1, what=f"job {job_id} to be {statuses}")
    except AssertionError as exc:
        where = {key: seen.get(key) for key in ("status", "retry_count", "current_step", "error", "updated_at")}
        raise AssertionError(f"{exc}; the row last stood at {where}") from None


async def submit_test_job(
    settings: Settings,
    job_type: str,
    *,
    user: LiveUser | None = None,
    project_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
    queue: str | None = None,
) -> uuid.UUID:
    """submit_job exactly as an API handler calls it, with a session and queues of these settings."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from app.domain.jobs.queues import JobQueues
    from app.domain.jobs.services import submit_job

    engine = create_async_engine(settings.database_url)
    queues = JobQueues(settings)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            row = await submit_job(
                session,
                job_type=job_type,
                project_id=project_id,
                user_id=user.id if user else None,
                payload=payload or {},
                queue=queue,
                settings=settings,
                queues=queues,
            )
            return row.id
    finally:
        await queues.close()
        await engine.dispose()


async def saq_status(settings: Settings, job_id: uuid.UUID, queue: str = "default") -> str | None:
    from app.domain.jobs.queues import JobQueues

    queues = JobQueues(settings)
    try:
        job = await queues.saq_job(job_id, queue)
        return job.status.value if job else None
    finally:
        await queues.close()


async def redis_get(settings: Settings, key: str) -> bytes | None:
    redis = Redis.from_url(settings.redis_url)
    try:
        value: bytes | None = await redis.get(key)
        return value
    finally:
        await redis.aclose()
