"""HTTP hot path: our cached, authenticated `GET /api/projects/{id}` against a bare Litestar route.

Not a test. Starts two granian servers with one worker each on this machine:
  - bare: `loadtests/bare_app.py`, one msgspec JSON route with a body shaped like a project state;
  - ours: the real API (`app.asgi:create_app`) with authentication, rate limiting (counted, with a
    limit too high to refuse) and metrics on, on a database and Redis db number of its own.
Seeds one user with PROJECTS projects, warms the cache, then runs wrk (64 connections, one thread)
against the two targets in turn, ROUNDS times each, in the same run, round robin over the projects.
Reports requests/s, p50 and p99 of each target, the servers' CPU time per request, and the ratios
ours/bare of requests/s (`ratio`) and of CPU per request (`cpu_ratio`, steadier on a shared machine);
targets: ratio >= 0.40 and our p99 < 10 ms. Writes loadtests/reports/http.json; exits 1 when a target is missed.

    .venv/bin/python loadtests/bench_http.py [--seconds 10] [--rounds 2]

wrk is the Debian package `wrk` (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

REPORT = ROOT / "loadtests" / "reports" / "http.json"
PROJECTS = 100
CONNECTIONS = 64
TARGET_RATIO = 0.40
TARGET_P99_MS = 10.0

_WRK_SCRIPT = """
local ids = {%(ids)s}
local i = 0
request = function()
  i = i %% #ids + 1
  return wrk.format("GET", "%(prefix)s" .. ids[i], {["Authorization"] = "Bearer %(token)s"})
end
"""
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _granian(app: str, port: int, env: dict[str, str], log: Path, *, factory: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--loop", "uvloop", "--no-ws", "--log-level", "warning"]
    command += ["--factory", app] if factory else [app]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited before it became ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready")


async def _seed(base: str) -> tuple[str, list[str]]:
    """One user with PROJECTS projects, each read twice (the second read is a cache hit)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        email, password = f"bench-{os.getpid()}@example.com", "Bench-password-123"
        (await client.post("/api/auth/register", json={"email": email, "password": password})).raise_for_status()
        login = await client.post("/api/auth/login", json={"email": email, "password": password})
        token = login.raise_for_status().json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for index in range(PROJECTS):
            created = await client.post(
                "/api/projects", json={"name": f"Bench {index}", "workflow": "workflow_a"}, headers=headers
            )
            ids.append(created.raise_for_status().json()["id"])
        for project_id in ids * 2:
            (await client.get(f"/api/projects/{project_id}", headers=headers)).raise_for_status()
    return token, ids


def _cpu_seconds(group: int) -> float:
    """User + system CPU time of every process of a server's process group (granian and its worker)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _wrk(url: str, script: Path, seconds: int, group: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    cpu_before = _cpu_seconds(group)
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    cpu = _cpu_seconds(group) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {
        percent: float(value) * _UNITS_MS[unit]
        for percent, value, unit in re.findall(r"^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$", output, re.M)
    }
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    return {
        "rps": rps,
        "server_cpu_us_per_request": round(1e6 * cpu / max(requests, 1), 1),
        "p50_ms": round(latency["50"], 3),
        "p99_ms": round(latency["99"], 3),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _profile(pid: int, output: Path, load: Any) -> None:
    """py-spy (pip install py-spy) over the server's worker process while `load` runs."""
    command = ["py-spy", "record", "--subprocesses", "--nonblocking", "--format", "raw", "-d", "6"]
    spy = subprocess.Popen([*command, "-o", str(output), "-p", str(pid)])
    load()
    spy.wait(timeout=60)


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "rps": round(statistics.median(r["rps"] for r in runs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
        "server_cpu_us_per_request": round(statistics.median(r["server_cpu_us_per_request"] for r in runs), 1),
        "non_2xx": sum(int(r["non_2xx"]) for r in runs),
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", type=Path, help="also record a py-spy profile of our server (collapsed stacks)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: install the Debian package with `apt-get install -y wrk`", file=sys.stderr)
        return 2

    from app.config import load_settings
    from app.lib.infra import ensure_servers, migrate, stop_servers
    from tests.support.servers import free_port, isolated

    outer = load_settings()
    started = ensure_servers(outer)
    bare_runs: list[dict[str, float]] = []
    our_runs: list[dict[str, float]] = []
    try:
        with isolated(outer.database_url, outer.redis_url) as servers, tempfile.TemporaryDirectory() as work:
            migrate(servers.database_url)
            work_dir = Path(work)
            (work_dir / "metrics").mkdir()
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "loadtests")]),
                "DATABASE_URL": servers.database_url,
                "REDIS_URL": servers.redis_url,
                "REDIS_NAMESPACE": servers.namespace,
                "RATE_LIMIT_AUTH": "1000/minute",
                "RATE_LIMIT_DEFAULT": "1000000000/minute",  # counted on every request, never refused
                "LOG_LEVEL": "WARNING",
                "PROMETHEUS_MULTIPROC_DIR": str(work_dir / "metrics"),
            }
            bare_port, our_port = free_port(), free_port()
            bare = _granian("bare_app:app", bare_port, env, work_dir / "bare.log", factory=False)
            ours = _granian("app.asgi:create_app", our_port, env, work_dir / "api.log", factory=True)
            try:
                _wait_ready(f"http://127.0.0.1:{our_port}/ready", ours)
                token, ids = asyncio.run(_seed(f"http://127.0.0.1:{our_port}"))
                _wait_ready(f"http://127.0.0.1:{bare_port}/bare/{ids[0]}", bare)
                quoted = ", ".join(f'"{i}"' for i in ids)
                bare_script, our_script = work_dir / "bare.lua", work_dir / "ours.lua"
                bare_script.write_text(_WRK_SCRIPT % {"ids": quoted, "prefix": "/bare/", "token": token})
                our_script.write_text(_WRK_SCRIPT % {"ids": quoted, "prefix": "/api/projects/", "token": token})
                bare_url, our_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{our_port}"
                _wrk(bare_url, bare_script, 2, bare.pid)  # warm-up of both
                _wrk(our_url, our_script, 2, ours.pid)
                for _ in range(args.rounds):
                    bare_runs.append(_wrk(bare_url, bare_script, args.seconds, bare.pid))
                    our_runs.append(_wrk(our_url, our_script, args.seconds, ours.pid))
                if args.profile:
                    _profile(ours.pid, args.profile, lambda: _wrk(our_url, our_script, 8, ours.pid))
            finally:
                for process in (bare, ours):
                    os.killpg(process.pid, 15)
                    process.wait(timeout=30)
    finally:
        stop_servers(outer, started)

    bare_summary, our_summary = _summary(bare_runs), _summary(our_runs)
    ratios = [o["rps"] / b["rps"] for o, b in zip(our_runs, bare_runs, strict=True)]
    report = {
        "benchmark": "cached authenticated GET /api/projects/{id} vs a bare Litestar+msgspec route (granian, 1 worker)",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "connections": CONNECTIONS,
        "seconds_per_run": args.seconds,
        "projects": PROJECTS,
        "bare": bare_summary,
        "ours": our_summary,
        "ratio": round(statistics.median(ratios), 3),
        "ratio_per_round": [round(r, 3) for r in ratios],
        # Less sensitive to the other load on a shared machine than requests/s: server CPU per request.
        "cpu_ratio": round(bare_summary["server_cpu_us_per_request"] / our_summary["server_cpu_us_per_request"], 3),
        "target_ratio": TARGET_RATIO,
        "target_p99_ms": TARGET_P99_MS,
    }
    report["met"] = bool(
        report["ratio"] >= TARGET_RATIO and our_summary["p99_ms"] < TARGET_P99_MS and our_summary["non_2xx"] == 0
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
