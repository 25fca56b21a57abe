"""Load test: a fresh database, the API on granian, locust headless; writes loadtests/reports/load.json.

Checks the service against the spec's floor (p95 < 200 ms at 100 users, cache hits > 60 %, queries
< 50 ms on average) and reports our own targets (p95 < 25 ms at 200 users, hits > 95 %, < 5 ms).
Bounded in time and aimed at 127.0.0.1 only. Cache hits and statement times are counted while locust
runs, after the seeding and each user's first visit (those are reported apart).

    .venv/bin/python loadtests/run_load.py --users 200 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.lib.infra import ensure_servers, migrate, stop_servers  # noqa: E402
from tests.support.servers import free_port, isolated  # noqa: E402

REPORTS = ROOT / "loadtests" / "reports"


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the API exited before it became ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the API did not become ready")


def _read_metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def _delta(before: str, after: str, name: str, labels: str = "") -> float:
    return _metric(after, name, labels) - _metric(before, name, labels)


def _metric(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and labels in line and not line.startswith("#"):
            match = re.match(rf"{re.escape(name)}(\{{[^}}]*\}})?\s+([0-9.eE+-]+)$", line)
            if match:
                total += float(match.group(2))
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    outer = load_settings()
    started = ensure_servers(outer)
    REPORTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    try:
        with isolated(outer.database_url, outer.redis_url) as servers, tempfile.TemporaryDirectory() as metrics_dir:
            migrate(servers.database_url)
            env = {
                **os.environ,
                "DATABASE_URL": servers.database_url,
                "REDIS_URL": servers.redis_url,
                "REDIS_NAMESPACE": servers.namespace,
                "SERVER_PORT": str(port),
                "SERVER_WORKERS": str(args.workers),
                "RATE_LIMIT_AUTH": "100000/minute",
                "RATE_LIMIT_DEFAULT": "100000/minute",
                "LOG_LEVEL": "WARNING",
                "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            }
            api = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, start_new_session=True)
            try:
                _wait_ready(port, api)
                seed_file = Path(metrics_dir) / "seed.json"
                seeds = asyncio.run(_seed(port, args.users))
                budget_sizes = asyncio.run(_add_real_sized_budgets(port, env, seeds))
                asyncio.run(_first_visit(port, seeds))
                seed_file.write_text(json.dumps(seeds))
                # The measurement counts what the API did while locust ran, not the seeding's reads and writes.
                metrics_before = _read_metrics(port)
                env_locust = {**os.environ, "LOAD_SEED": str(seed_file)}
                stats_base = REPORTS / "locust"
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "locust",
                        "-f",
                        str(ROOT / "loadtests" / "locustfile.py"),
                        "--headless",
                        "-u",
                        str(args.users),
                        "-r",
                        str(args.spawn_rate),
                        "-t",
                        f"{args.seconds}s",
                        "--host",
                        f"http://127.0.0.1:{port}",
                        "--json-file",
                        str(stats_base),
                        "--csv",
                        str(stats_base),
                        "--only-summary",
                        "--loglevel",
                        "WARNING",
                        "--stop-timeout",
                        "5",
                    ],
                    check=False,
                    timeout=args.seconds + 120,
                    env=env_locust,
                )
                metrics = _read_metrics(port)
            finally:
                os.killpg(api.pid, signal.SIGTERM)
                api.wait(timeout=30)
    finally:
        stop_servers(outer, started)

    stats = json.loads(Path(f"{stats_base}.json").read_text())
    endpoints = {}
    all_times: dict[str, int] = {}
    requests = failures = 0
    for entry in stats:
        times = {int(k): v for k, v in entry["response_times"].items()}
        endpoints[f"{entry['method']} {entry['name']}"] = {
            "requests": entry["num_requests"],
            "failures": entry["num_failures"],
            "p50_ms": _percentile(times, 0.50),
            "p95_ms": _percentile(times, 0.95),
            "p99_ms": _percentile(times, 0.99),
        }
        requests += entry["num_requests"]
        failures += entry["num_failures"]
        for k, v in times.items():
            all_times[str(k)] = all_times.get(str(k), 0) + v
    merged = {int(k): v for k, v in all_times.items()}
    by_cache = {}
    seeding_cache = {}
    for cache_name in ("project_state", "project_list"):
        hit_labels, miss_labels = (f'cache="{cache_name}",outcome="{outcome}"' for outcome in ("hit", "miss"))
        cache_hits = _delta(metrics_before, metrics, "concrete_agent_cache_events_total", hit_labels)
        cache_misses = _delta(metrics_before, metrics, "concrete_agent_cache_events_total", miss_labels)
        seeding_cache[cache_name] = {
            "hits": int(_metric(metrics_before, "concrete_agent_cache_events_total", hit_labels)),
            "misses": int(_metric(metrics_before, "concrete_agent_cache_events_total", miss_labels)),
        }
        total = cache_hits + cache_misses
        by_cache[cache_name] = {
            "hits": int(cache_hits),
            "misses": int(cache_misses),
            "hit_rate": round(cache_hits / total, 4) if total else None,
        }
    # Beside the two the targets name: the cached plain budget view (GET /positions, latest version).
    other_caches = {}
    for cache_name in ("position_page",):
        hit_labels, miss_labels = (f'cache="{cache_name}",outcome="{outcome}"' for outcome in ("hit", "miss"))
        cache_hits = _delta(metrics_before, metrics, "concrete_agent_cache_events_total", hit_labels)
        cache_misses = _delta(metrics_before, metrics, "concrete_agent_cache_events_total", miss_labels)
        total = cache_hits + cache_misses
        other_caches[cache_name] = {
            "hits": int(cache_hits),
            "misses": int(cache_misses),
            "hit_rate": round(cache_hits / total, 4) if total else None,
        }
    hits = sum(entry["hits"] for entry in by_cache.values())
    misses = sum(entry["misses"] for entry in by_cache.values())
    query_sum = _delta(metrics_before, metrics, "concrete_agent_db_query_seconds_sum")
    query_count = _delta(metrics_before, metrics, "concrete_agent_db_query_seconds_count")
    report = {
        "users": args.users,
        "seconds": args.seconds,
        "api_workers": args.workers,
        "requests": requests,
        "failures": failures,
        "rps": round(requests / args.seconds, 1),
        "p50_ms": _percentile(merged, 0.50),
        "p95_ms": _percentile(merged, 0.95),
        "p99_ms": _percentile(merged, 0.99),
        "cache_hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
        # GET /api/projects/{id} reads project_state, GET /api/projects reads project_list. Counted
        # while locust ran; the seeding (which ends with each user's first look at its list and
        # budget, filling the caches as a client's first visit does) is reported apart.
        "cache_hit_rate_by_cache": by_cache,
        "cache_events_while_seeding": seeding_cache,
        "other_caches": other_caches,
        "project_sizes": budget_sizes,
        "db_query_avg_ms": round(1000 * query_sum / query_count, 3) if query_count else None,
        "endpoints": endpoints,
        "failure_reasons": _failure_reasons(Path(f"{stats_base}_failures.csv")),
    }
    report["floor_met"] = bool(
        report["p95_ms"] is not None
        and report["p95_ms"] < 200
        and failures == 0
        and (report["cache_hit_rate"] or 0) > 0.60
        and (report["db_query_avg_ms"] or 0) < 50
    )
    report["aim_met"] = bool(
        report["p95_ms"] is not None
        and report["p95_ms"] < 25
        and all((entry["hit_rate"] or 0) >= 0.95 for entry in by_cache.values())
        and (report["db_query_avg_ms"] or 0) < 5
    )
    (REPORTS / "load.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if report["floor_met"] else 1


async def _seed(port: int, users: int) -> list[dict[str, object]]:
    """Accounts with a project of 5 positions each, made before the measurement (argon2 sign-ups are
    deliberately slow and would otherwise dominate the first minute)."""
    import httpx

    sys.path.insert(0, str(ROOT / "loadtests"))
    from locustfile import position_body

    limit = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, index: int) -> dict[str, object]:
        async with limit:
            email = f"seed-{index}-{os.getpid()}@example.com"
            password = "Load-test-password-1"
            await client.post("/api/auth/register", json={"email": email, "password": password})
            token = (await client.post("/api/auth/login", json={"email": email, "password": password})).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            project = (
                await client.post(
                    "/api/projects", json={"name": "Load project", "workflow": "workflow_a"}, headers=headers
                )
            ).json()
            positions = []
            for number in range(5):
                created = await client.post(
                    f"/api/projects/{project['id']}/positions", json=position_body(number), headers=headers
                )
                positions.append(created.json()["position"]["lineage_id"])
            return {"token": token, "project_id": project["id"], "position_ids": positions}

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(users))))


async def _add_real_sized_budgets(port: int, env: dict[str, str], seeds: list[dict[str, Any]]) -> dict[str, int]:
    """Give some users a budget of real size, written straight into PostgreSQL as one version (like an
    upload would): every 10th user a generated 2,000-position budget, every other 5th the 298 positions
    of the RD Valcha sample (../shared/samples, else 298 generated ones). Their edits then address
    positions of that budget."""
    import httpx
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import create_async_engine

    sys.path.insert(0, str(ROOT / "loadtests"))
    from bench_audit import generate_positions
    from bench_audit_e2e import as_new_position

    from app.domain.budgets.services import BudgetService
    from app.domain.kb.reference import load_catalog_extract
    from app.lib.redis_events import RedisEventPublisher
    from app.lib.unit_of_work import CommitContext, committed_session

    catalog = load_catalog_extract()
    generated = [as_new_position(p, i) for i, p in enumerate(generate_positions(2000, catalog), start=1)]
    valcha = _valcha_positions() or generated[:298]
    settings = load_settings(env)  # the API's own settings: same database, Redis and namespace
    engine = create_async_engine(settings.database_url, pool_size=2)
    redis = Redis.from_url(settings.REDIS_URL)
    context = CommitContext(
        settings=settings, redis=redis, events=RedisEventPublisher(redis, settings.REDIS_NAMESPACE), bind=engine
    )
    sizes: dict[str, int] = {"2000": 0, str(len(valcha)): 0, "5": 0}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for index, seed in enumerate(seeds):
                positions = generated if index % 10 == 0 else valcha if index % 5 == 0 else None
                if positions is None:
                    sizes["5"] += 1
                    continue
                # committed through the unit of work, so the cached project state follows the import
                async with committed_session(context) as session:
                    await BudgetService(session=session).create_version(
                        uuid.UUID(str(seed["project_id"])), "import", positions=positions
                    )
                headers = {"Authorization": f"Bearer {seed['token']}"}
                page = await client.get(f"/api/projects/{seed['project_id']}/positions?limit=50", headers=headers)
                seed["position_ids"] = [item["lineage_id"] for item in page.json()["items"]]
                sizes[str(len(positions))] += 1
    finally:
        await engine.dispose()
        await redis.aclose()
    return sizes


async def _first_visit(port: int, seeds: list[dict[str, Any]]) -> None:
    """Each user opens its project list and its project once, as a client does after signing in:
    the measurement then sees the caches in their steady state (the TTL is an hour), not 200 first
    reads of a 30-second run. Those first reads are counted in `cache_events_while_seeding`."""
    import httpx

    limit = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, seed: dict[str, Any]) -> None:
        async with limit:
            headers = {"Authorization": f"Bearer {seed['token']}"}
            for url in ("/api/projects", f"/api/projects/{seed['project_id']}"):
                assert (await client.get(url, headers=headers)).status_code == 200

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        await asyncio.gather(*(one(client, seed) for seed in seeds))


def _valcha_positions() -> list[Any]:
    """The positions of the RD Valcha UNIXML sample (as parsed), or [] without the samples."""
    from app.domain.documents.parsing import extract

    for folder in ROOT.parents:
        sample = folder / "shared" / "samples" / "unixml_kros_RD_Valcha_SO1_SO2_priced.xml"
        if sample.is_file():
            return list(extract(sample.read_bytes(), sample.name, schedules_as_text=False).positions)
    return []


def _failure_reasons(path: Path) -> list[dict[str, Any]]:
    """What locust saw fail (its failures CSV): method, endpoint, error and how often."""
    import csv

    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [
            {
                "method": row["Method"],
                "name": row["Name"],
                "error": row["Error"][:300],
                "count": int(row["Occurrences"]),
            }
            for row in csv.DictReader(handle)
        ]


def _percentile(times: dict[int, int], q: float) -> float | None:
    """Locust stores response times as {rounded_ms: count}; read the q-quantile off that histogram."""
    total = sum(times.values())
    if not total:
        return None
    running = 0
    for value in sorted(times):
        running += times[value]
        if running >= q * total:
            return float(value)
    return float(max(times))


if __name__ == "__main__":
    raise SystemExit(main())
