"""Zero-downtime deploy, proven: a bounded load runs while the API, the workers and the schema change.

Not a test. On a database and Redis db number of its own (created and dropped here, on the servers of
DATABASE_URL / REDIS_URL or the embedded ones), loopback only, it starts the service as an operator
runs it: `app serve` (granian, SERVER_WORKERS=2 API processes on one port) and two `app worker`s. Then,
while HTTP clients read projects and positions and start recalculate jobs, and WebSocket clients
follow their user and project channels (a publisher adds a steady stream of events), it deploys:

1. applies a new, additive migration (`app db upgrade` with a revision written for this run:
   a nullable column, the "expand" step) while the old code serves;
2. restarts the API processes one at a time (SIGHUP: granian starts a new process, waits
   GRANIAN_RESPAWN_INTERVAL, then stops the old one gracefully, process by process);
3. restarts the workers (two new ones start, the old ones get SIGTERM and finish or hand back their
   jobs).

It reports failed requests (target 0), WebSocket events a client never received even after resuming by
`seq` (target 0), and jobs that did not complete (target 0), as JSON in
``loadtests/reports/deploy.json``; exit 1 when a target is missed. A request that meets a connection
the server closed before answering is sent again once, as browsers do; those are counted apart.

Run from the repository root: ``.venv/bin/python loadtests/deploy_zero_downtime.py`` (or ``make deploy-check``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

HTTP_CLIENTS = int(os.environ.get("DEPLOY_HTTP_CLIENTS", "6"))
WS_CLIENTS = int(os.environ.get("DEPLOY_WS_CLIENTS", "8"))
EVENTS_PER_SECOND = float(os.environ.get("DEPLOY_EVENTS_PER_SECOND", "20"))
SETTLE_SECONDS = float(os.environ.get("DEPLOY_SETTLE_SECONDS", "5"))
MAX_SECONDS = float(os.environ.get("DEPLOY_MAX_SECONDS", "300"))  # the whole run, bounded
REQUEST_TIMEOUT_SECONDS = 30.0
REPORT = Path(__file__).parent / "reports" / "deploy.json"

MIGRATION_TEMPLATE = '''"""deploy check: an additive column (expand), written by loadtests/deploy_zero_downtime.py"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("projects", sa.Column("deploy_check_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("projects", "deploy_check_note")
'''


@dataclass
class HttpStats:
    total: int = 0
    failed: int = 0
    resent_after_closed_connection: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)


@dataclass
class SocketStats:
    seen: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    reconnects: int = 0


def free_port() -> int:
    from tests.support.servers import free_port as pick

    return pick()


def write_migration(workdir: Path, database_url: str) -> Path:
    """A copy of db/migrations with one more revision on top of the current head."""
    from alembic.script import ScriptDirectory

    from app.lib.infra import alembic_config

    migrations = workdir / "migrations"
    shutil.copytree(ROOT / "db" / "migrations", migrations, ignore=shutil.ignore_patterns("__pycache__"))
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    revision = f"deploy_{uuid.uuid4().hex[:8]}"
    (migrations / "versions" / f"{revision}.py").write_text(
        MIGRATION_TEMPLATE.format(revision=revision, down_revision=head), encoding="utf-8"
    )
    return migrations


def spawn(name: str, command: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"{name}.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)


def api_children(master: subprocess.Popen[bytes]) -> set[int]:
    import psutil

    pids = set()
    try:
        for child in psutil.Process(master.pid).children():
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):  # multiprocessing's helper stays
                    pids.add(child.pid)
    except psutil.NoSuchProcess:
        pass
    return pids


async def wait_until(probe: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


class Deploy:
    def __init__(self, settings: Any, logs: Path, workdir: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stop_load = asyncio.Event()
        self.http = HttpStats()
        self.sockets = SocketStats()
        self.steps: dict[str, float] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.migrated_to = ""

    def env(self, **overrides: str) -> dict[str, str]:
        from tests.support.live import live_env

        env = live_env(self.settings, LOG_LEVEL="WARNING", SERVER_PORT=str(self.port), SERVER_WORKERS="2")
        for name in ("SAQ_JOB_HEARTBEAT", "SAQ_RETRY_BACKOFF", "SAQ_MAX_RETRIES", "SAQ_JOB_TIMEOUT", "JOB_MODULES"):
            env.pop(name, None)  # production timings
        env["GRANIAN_RESPAWN_INTERVAL"] = "8"  # a new API process is serving before its predecessor stops
        env.update(overrides)
        return env

    def start_worker(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = spawn(name, [sys.executable, "-m", "app", "worker"], env, self.logs)
        self.processes.append(process)
        return process

    async def wait_ready(self) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=self.base, timeout=2.0) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_until(ready, 120, "the API to be ready")

    # ---- load ------------------------------------------------------------------------------

    async def request(self, client: Any, method: str, url: str, **kwargs: Any) -> Any:
        import httpx

        self.http.total += 1
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                response = await client.request(method, url, **kwargs)
            except (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError) as exc:
                if attempt == 1:  # the server closed the connection before answering: send it again once
                    self.http.resent_after_closed_connection += 1
                    continue
                self.record_failure(f"{method} {url}: {type(exc).__name__}: {exc}")
                return None
            except httpx.HTTPError as exc:
                self.record_failure(f"{method} {url}: {type(exc).__name__}: {exc}")
                return None
            self.http.latencies.append(time.perf_counter() - started)
            self.http.statuses[str(response.status_code)] += 1
            if response.status_code >= 500 or response.status_code in (404, 401, 429):
                self.record_failure(f"{method} {url}: {response.status_code} {response.text[:200]}")
            return response
        return None

    def record_failure(self, message: str) -> None:
        self.http.failed += 1
        if len(self.http.failures) < 20:
            self.http.failures.append(message)

    async def http_client(self, user: Any, project_id: uuid.UUID, index: int) -> None:
        import httpx

        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with httpx.AsyncClient(
            base_url=self.base, headers=user.headers, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
        ) as client:
            n = 0
            while not self.stop_load.is_set():
                n += 1
                await self.request(client, "GET", "/api/projects")
                await self.request(client, "GET", f"/api/projects/{project_id}")
                await self.request(client, "GET", f"/api/projects/{project_id}/positions")
                if n % 8 == index % 8:
                    started = await self.request(client, "POST", f"/api/projects/{project_id}/recalculate")
                    if started is not None and started.status_code == 202:
                        self.http.jobs.append(started.json()["job_id"])
                await asyncio.sleep(0.05)

    async def socket_client(self, user: Any, project_id: uuid.UUID) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake

        from app.lib.events import project_channel, user_channel

        own, project = user_channel(user.id), project_channel(project_id)
        seen = self.sockets.seen
        while not self.stop_load.is_set():
            # Always resume (from 0 the first time): nothing published before the socket subscribed is lost.
            last = {channel: max(seen[f"{user.id}|{channel}"], default=0) for channel in (own, project)}
            query = f"token={user.token}&after_seq={last[own]}"
            try:
                async with connect(
                    f"ws://127.0.0.1:{self.port}/ws?{query}", open_timeout=20, ping_interval=None, compression=None
                ) as socket:
                    join = {"action": "join_project", "project_id": str(project_id), "after_seq": last[project]}
                    await socket.send(json.dumps(join))
                    while True:
                        event = json.loads(await socket.recv())
                        if "seq" in event:
                            seen[f"{user.id}|{event['channel']}"].add(event["seq"])
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                if self.stop_load.is_set():
                    return
                self.sockets.reconnects += 1
                await asyncio.sleep(0.2)

    async def publisher(self, channels: list[str]) -> None:
        from redis.asyncio import Redis

        from app.lib.redis_events import RedisEventPublisher

        redis = Redis.from_url(self.settings.redis_url)
        publisher = RedisEventPublisher(redis, self.settings.REDIS_NAMESPACE)
        try:
            n = 0
            while not self.stop_load.is_set():
                n += 1
                await publisher.publish(random.choice(channels), "deploy_tick", {"n": n})
                await asyncio.sleep(1 / EVENTS_PER_SECOND)
        finally:
            await redis.aclose()

    # ---- deploy steps ----------------------------------------------------------------------

    async def timed(self, name: str, step: Any) -> None:
        started = time.monotonic()
        await step()
        self.steps[name] = round(time.monotonic() - started, 2)
        print(f"deploy: {name} done in {self.steps[name]} s", file=sys.stderr)

    async def apply_migration(self) -> None:
        migrations = write_migration(self.workdir, self.settings.database_url)
        env = self.env(MIGRATIONS_DIR=str(migrations))
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "app", "db", "upgrade"], env=env, cwd=ROOT, capture_output=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"migration failed: {result.stderr.decode()[-2000:]}")
        from tests.support.live import run_sql

        [(revision,)] = await run_sql(self.settings, "SELECT version_num FROM alembic_version")
        self.migrated_to = str(revision)

    async def reload_api(self, master: subprocess.Popen[bytes]) -> None:
        before = api_children(master)
        master.send_signal(signal.SIGHUP)

        async def replaced() -> bool:
            now = api_children(master)
            return len(now) == len(before) and not (now & before)

        await wait_until(replaced, 120, "granian to replace every API process")

    async def wait_for_workers(self, count: int) -> None:
        """Until `count` worker processes have registered with SAQ (their `worker_info` in Redis)."""
        from redis.asyncio import Redis

        redis = Redis.from_url(self.settings.redis_url)
        pattern = f"saq:{self.settings.REDIS_NAMESPACE}:high:worker_info:*"
        try:

            async def registered() -> bool:
                return len(await redis.keys(pattern)) >= count

            await wait_until(registered, 120, f"{count} workers to register")
        finally:
            await redis.aclose()

    async def restart_workers(self, old: list[subprocess.Popen[bytes]]) -> None:
        for n in range(len(old)):
            self.start_worker(f"worker-new-{n}", self.env())
        await self.wait_for_workers(2 * len(old))
        for process in old:
            process.send_signal(signal.SIGTERM)
        for process in old:
            await asyncio.to_thread(process.wait, 60)

    # ---- the run ---------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        from tests.support.live import create_live_user, create_project_with_budget

        users = [await create_live_user(self.settings) for _ in range(max(HTTP_CLIENTS, WS_CLIENTS))]
        projects = [
            await create_project_with_budget(self.settings, u, versions=1, positions_per_version=5) for u in users
        ]
        master = spawn("api", [sys.executable, "-m", "app", "serve"], self.env(), self.logs)
        self.processes.append(master)
        old_workers = [self.start_worker(f"worker-old-{n}", self.env()) for n in range(2)]
        await self.wait_ready()
        await self.wait_for_workers(2)

        from app.lib.events import project_channel

        load = [asyncio.create_task(self.http_client(users[i], projects[i], i)) for i in range(HTTP_CLIENTS)]
        load += [asyncio.create_task(self.socket_client(users[i], projects[i])) for i in range(WS_CLIENTS)]
        load.append(asyncio.create_task(self.publisher([project_channel(p) for p in projects[:WS_CLIENTS]])))
        started = time.monotonic()
        try:
            async with asyncio.timeout(MAX_SECONDS):
                await asyncio.sleep(SETTLE_SECONDS)
                await self.timed("migration_applied", self.apply_migration)
                await asyncio.sleep(SETTLE_SECONDS)
                await self.timed("api_processes_restarted_one_at_a_time", lambda: self.reload_api(master))
                await asyncio.sleep(SETTLE_SECONDS)
                await self.timed("workers_restarted", lambda: self.restart_workers(old_workers))
                await asyncio.sleep(SETTLE_SECONDS)
        finally:
            self.stop_load.set()
            await asyncio.sleep(2.0)  # the last events reach the sockets
            for task in load:
                task.cancel()
            await asyncio.gather(*load, return_exceptions=True)
        load_seconds = time.monotonic() - started
        jobs = await self.job_outcomes()
        dropped = await self.dropped_events(users[:WS_CLIENTS], projects[:WS_CLIENTS])
        return self.report(load_seconds, jobs, dropped)

    async def job_outcomes(self) -> dict[str, int]:
        from tests.support.live import run_sql

        ids = [uuid.UUID(j) for j in self.http.jobs]
        if not ids:
            return {}

        async def settled() -> bool:
            rows = await run_sql(
                self.settings,
                "SELECT count(*) FROM background_jobs WHERE id = ANY(:ids) AND status IN ('queued', 'running')",
                ids=ids,
            )
            return rows[0][0] == 0

        with contextlib.suppress(RuntimeError):
            await wait_until(settled, 120, "the jobs to end")
        rows = await run_sql(
            self.settings,
            "SELECT status, count(*) FROM background_jobs WHERE id = ANY(:ids) GROUP BY status",
            ids=ids,
        )
        return {status: count for status, count in rows}

    async def dropped_events(self, users: list[Any], projects: list[uuid.UUID]) -> dict[str, int]:
        """Per client and channel: every seq the channel published (1..its counter) that never arrived."""
        from redis.asyncio import Redis

        from app.lib.events import project_channel, user_channel
        from app.lib.redis_events import seq_key

        redis = Redis.from_url(self.settings.redis_url)
        expected = received = dropped = 0
        try:
            for user, project_id in zip(users, projects, strict=True):
                for channel in (user_channel(user.id), project_channel(project_id)):
                    last = int(await redis.get(seq_key(self.settings.REDIS_NAMESPACE, channel)) or 0)
                    got = self.sockets.seen[f"{user.id}|{channel}"]
                    expected += last
                    received += len(got & set(range(1, last + 1)))
                    dropped += len(set(range(1, last + 1)) - got)
        finally:
            await redis.aclose()
        return {"expected": expected, "received": received, "dropped": dropped}

    def report(self, load_seconds: float, jobs: dict[str, int], events: dict[str, int]) -> dict[str, Any]:
        ms = sorted(value * 1000 for value in self.http.latencies) or [0.0]
        not_completed = sum(count for status, count in jobs.items() if status != "completed")
        return {
            "benchmark": "zero-downtime deploy under load: migration, API processes one at a time, workers",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "load_seconds": round(load_seconds, 1),
            "steps_seconds": self.steps,
            "migrated_to": self.migrated_to,
            "http": {
                "clients": HTTP_CLIENTS,
                "requests": self.http.total,
                "failed": self.http.failed,
                "resent_after_closed_connection": self.http.resent_after_closed_connection,
                "statuses": dict(self.http.statuses),
                "latency_ms": {
                    "p50": round(statistics.median(ms), 1),
                    "p95": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 1),
                    "max": round(ms[-1], 1),
                },
                "failures": self.http.failures,
            },
            "websocket": {
                "clients": WS_CLIENTS,
                "reconnects": self.sockets.reconnects,
                "events_expected": events["expected"],
                "events_received": events["received"],
                "events_dropped": events["dropped"],
            },
            "jobs": {"submitted": len(self.http.jobs), "by_status": jobs, "not_completed": not_completed},
            "targets": {"failed_requests": 0, "dropped_events": 0, "jobs_not_completed": 0},
            "met": self.http.failed == 0 and events["dropped"] == 0 and not_completed == 0,
        }

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


async def deploy_run(settings: Any, work: Path) -> dict[str, Any]:
    logs = work / "logs"
    logs.mkdir()
    deploy = Deploy(settings, logs, work)
    try:
        return await deploy.run()
    finally:
        await asyncio.to_thread(deploy.stop_all)
        if os.environ.get("DEPLOY_KEEP_LOGS"):
            shutil.copytree(logs, os.environ["DEPLOY_KEEP_LOGS"], dirs_exist_ok=True)


def main() -> int:
    from tests.support.servers import run_on_isolated_servers, write_report

    report = run_on_isolated_servers(deploy_run)
    write_report(report, REPORT)
    return 0 if report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
