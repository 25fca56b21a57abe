"""Benchmark: the audit end to end against PostgreSQL — load positions, audit, write every verdict.

Not a test. For 2,000 and 10,000 positions (budgets shaped like real exports, see bench_audit.py):
read the latest version's positions, build the context from the catalogue through the knowledge-base
cache, run all experts and the orchestrator, then COPY one row per expert per position (60,000 rows
for 10,000 positions), update the positions and the project, and commit. Targets: 2,000 < 2 s and
10,000 < 10 s. "cold" is the first audit of a budget (cache misses, nothing to replace); "reaudit"
audits the same version again (cache hits, the earlier 6 × n rows deleted first).

Runs in a database of its own on the PostgreSQL of DATABASE_URL (default: the embedded one), created
and dropped here; Redis from REDIS_URL. Prints JSON and writes loadtests/reports/audit_e2e.json.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python loadtests/bench_audit_e2e.py
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "loadtests"):  # run as a script: make `tests.*` and `bench_audit` importable
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_audit import generate_positions  # noqa: E402
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.models import Project, User  # noqa: E402
from app.domain.audits.experts import AuditPosition  # noqa: E402
from app.domain.audits.services import AuditService  # noqa: E402
from app.domain.budgets.changes import NewPosition  # noqa: E402
from app.domain.budgets.services import BudgetService  # noqa: E402
from app.domain.kb.loader import load_shipped_data  # noqa: E402
from app.domain.kb.reference import load_catalog_extract  # noqa: E402
from app.domain.kb.services import KnowledgeBase  # noqa: E402
from app.lib.redis import create_redis  # noqa: E402
from tests.support.servers import run_in_scratch_database  # noqa: E402

SIZES = (2_000, 10_000)
TARGET_SECONDS = {2_000: 2.0, 10_000: 10.0}
REPORT = ROOT / "loadtests" / "reports" / "audit_e2e.json"


def as_new_position(position: AuditPosition, line: int) -> NewPosition:
    return NewPosition(
        description=position.description or "",
        code=position.code,
        unit=position.unit,
        quantity=position.quantity,
        unit_price=position.unit_price,
        total_price=position.total_price,
        source="uploaded",
        source_line=line,
        metadata={"object_code": position.object_code, "item_type": position.item_type, "catalog": position.catalog},
    )


async def run(settings: Settings) -> dict[str, Any]:
    engine = create_async_engine(settings.database_url, pool_size=5)
    redis = create_redis(settings)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    knowledge = KnowledgeBase(engine, redis)
    results: dict[str, Any] = {}
    try:
        await load_shipped_data(engine, redis=redis)
        catalog = load_catalog_extract()
        async with sessions() as session, session.begin():
            owner = User(email=f"bench-{uuid.uuid4().hex[:8]}@example.cz", password_hash="x", status="active")
            session.add(owner)
        for size in SIZES:
            async with sessions() as session, session.begin():
                project = Project(owner_id=owner.id, name=f"Benchmark {size}")
                session.add(project)
            positions = [as_new_position(p, i) for i, p in enumerate(generate_positions(size, catalog), start=1)]
            setup = time.perf_counter()
            async with sessions() as session, session.begin():  # create_version leaves the commit to its caller
                await BudgetService(session=session).create_version(project.id, "import", positions=positions)
            setup_s = time.perf_counter() - setup

            runs: dict[str, Any] = {}
            for label in ("cold", "reaudit"):
                begun = time.perf_counter()
                async with sessions() as session, session.begin():
                    outcome = await AuditService(session, knowledge).audit(project.id)
                    commit = time.perf_counter()
                elapsed = time.perf_counter() - begun
                runs[label] = {
                    "seconds": round(elapsed, 4),
                    "within_target": elapsed < TARGET_SECONDS[size],
                    "phases": {**outcome.seconds, "commit": round(time.perf_counter() - commit, 4)},
                    "rows_written": outcome.results_written,
                    "rows_replaced": outcome.results_replaced,
                    "final_statuses": {"RED": outcome.red, "AMBER": outcome.amber, "GREEN": outcome.green},
                }
            results[str(size)] = {
                "positions": size,
                "target_seconds": TARGET_SECONDS[size],
                "setup_seconds_create_version": round(setup_s, 4),
                **runs,
            }
    finally:
        await redis.aclose()
        await engine.dispose()
    return results


def main() -> int:
    results = run_in_scratch_database(run)
    report = {
        "benchmark": "audit end to end (PostgreSQL: load positions, audit, COPY verdicts, update, commit)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0 if all(run[label]["within_target"] for run in results.values() for label in ("cold", "reaudit")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
