"""Benchmark: PATCH of one position on a 2,000-position budget, through the whole HTTP stack.

Not a test. A generated 2,000-position budget (shaped like real exports, see bench_audit.py) is the
latest version of a project; then PATCH /api/projects/{id}/positions/{position_id} is sent
SAMPLES times, one after another, each to another position **by its id in the first version read**
(ids of an old list stay usable: every edit makes a new version). The app runs in process (Litestar's
test client: real authentication, rate limits, cache invalidation, events; no network), so the
figure is the server's time. Target: p95 < 50 ms. Also reports the budget service alone
(`create_version` with one modified position, committed), which is what an edit costs in PostgreSQL,
and the position rows the project holds at the end: versions share unchanged rows, so each edit adds
one row, not a copy of the budget (`rows_written_per_edit`).

Runs in a database of its own on the PostgreSQL of DATABASE_URL (default: the embedded one), created
and dropped here; Redis from REDIS_URL. Prints JSON and writes loadtests/reports/patch.json.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python loadtests/bench_patch.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "loadtests"):  # run as a script: make `tests.*` and `bench_audit` importable
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_audit import generate_positions  # noqa: E402
from bench_audit_e2e import as_new_position  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine  # noqa: E402

from app.config import Settings, get_settings, load_settings  # noqa: E402
from app.db.models import Position  # noqa: E402
from app.domain.budgets.changes import ChangeSet  # noqa: E402
from app.domain.budgets.services import BudgetService  # noqa: E402
from app.domain.kb.reference import load_catalog_extract  # noqa: E402
from app.lib.infra import ensure_servers, migrate, stop_servers  # noqa: E402
from tests.support.api import signed_in_user  # noqa: E402
from tests.support.servers import create_database, drop_database  # noqa: E402

POSITIONS = 2_000
SAMPLES = 120
WARM_UP = 10
TARGET_P95_MS = 50.0
REPORT = ROOT / "loadtests" / "reports" / "patch.json"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _summary(samples_ms: list[float]) -> dict[str, float]:
    return {
        "samples": len(samples_ms),
        "p50_ms": round(statistics.median(samples_ms), 2),
        "p95_ms": round(_percentile(samples_ms, 0.95), 2),
        "max_ms": round(max(samples_ms), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
    }


async def run(settings: Settings) -> dict[str, Any]:
    from app.server import build_app

    engine = create_async_engine(settings.database_url, pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with AsyncTestClient(app=build_app(settings)) as client:
            user = await signed_in_user(client)
            created = await client.post(
                "/api/projects", json={"name": "PATCH benchmark", "workflow": "workflow_a"}, headers=user.headers
            )
            project_id = uuid.UUID(created.json()["id"])
            catalog = load_catalog_extract()
            budget = [as_new_position(p, i) for i, p in enumerate(generate_positions(POSITIONS, catalog), start=1)]
            async with sessions() as session, session.begin():  # create_version leaves the commit to its caller
                await BudgetService(session=session).create_version(project_id, "import", positions=budget)
            listed = await client.get(
                f"/api/projects/{project_id}/positions", params={"limit": 500}, headers=user.headers
            )
            first_ids = [item["id"] for item in listed.json()["items"]]

            http_ms: list[float] = []
            for index in range(WARM_UP + SAMPLES):
                position_id = first_ids[index % len(first_ids)]
                body = {"quantity": str(Decimal(10 + index)), "notes": f"edit {index}"}
                begun = time.perf_counter()
                response = await client.patch(
                    f"/api/projects/{project_id}/positions/{position_id}", json=body, headers=user.headers
                )
                elapsed = (time.perf_counter() - begun) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"PATCH answered {response.status_code}: {response.text}")
                if index >= WARM_UP:
                    http_ms.append(elapsed)

        service_ms: list[float] = []
        for index in range(SAMPLES):
            lineage = uuid.UUID(first_ids[index % len(first_ids)])
            begun = time.perf_counter()
            async with sessions() as session, session.begin():
                await BudgetService(session=session).create_version(
                    project_id, "user_edit", changes=ChangeSet(modified={lineage: {"notes": f"service {index}"}})
                )
            service_ms.append((time.perf_counter() - begun) * 1000)
        versions = WARM_UP + 2 * SAMPLES + 1
        async with sessions() as session:
            rows = await session.scalar(select(func.count()).where(Position.project_id == project_id)) or 0
    finally:
        await engine.dispose()
    http = _summary(http_ms)
    return {
        "positions": POSITIONS,
        "versions_made": versions,
        "position_rows": rows,
        "rows_written_per_edit": round((rows - POSITIONS) / (versions - 1), 2),
        "target_p95_ms": TARGET_P95_MS,
        "http_patch": {**http, "within_target": http["p95_ms"] < TARGET_P95_MS},
        "service_create_version": _summary(service_ms),
    }


def main() -> int:
    outer = load_settings()
    started = ensure_servers(outer)
    database = f"ca_bench_{uuid.uuid4().hex[:10]}"
    database_url = create_database(outer.database_url, database)
    try:
        migrate(database_url)
        os.environ["DATABASE_URL"] = database_url
        get_settings.cache_clear()
        settings = load_settings({**os.environ, "DATABASE_URL": database_url, "DEBUG": "false"}, dotenv=None)
        results = asyncio.run(run(settings))
    finally:
        drop_database(outer.database_url, database)
        stop_servers(outer, started)
    report = {
        "benchmark": "PATCH of one position on a 2,000-position budget (in-process HTTP, real auth)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0 if results["http_patch"]["within_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
