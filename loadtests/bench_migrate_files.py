"""Benchmark: `migrate-files` of a generated old store (1,000 projects × 100 positions, 4 files each).

Not a test. Budget: the whole migration in < 60 s on a 2-core machine. Runs against the PostgreSQL
of DATABASE_URL (default: the embedded one) in a database of its own, created and dropped here.
Also times a re-run (every project unchanged) and `--verify`. Prints a JSON report and writes it
to loadtests/reports/migrate_files.json.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python loadtests/bench_migrate_files.py [--projects 1000] [--positions 100] [--files 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `tests.*` importable
    sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.domain.filestore.migrate import migrate_store  # noqa: E402
from app.domain.filestore.verify import verify_store  # noqa: E402
from app.lib.infra import ensure_servers, migrate, stop_servers  # noqa: E402
from tests.fixtures.legacy_store import build_store  # noqa: E402
from tests.support.servers import create_database, drop_database  # noqa: E402

MIGRATION_BUDGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=100)
    parser.add_argument("--files", type=int, default=4, help="documents per project")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--no-verify", action="store_true", help="skip timing --verify")
    parser.add_argument("--report", type=Path, default=ROOT / "loadtests" / "reports" / "migrate_files.json")
    args = parser.parse_args()

    outer = load_settings()
    started_servers = ensure_servers(outer)
    base = Path(tempfile.mkdtemp(prefix="bench_migrate_", dir="/tmp"))
    database = f"ca_bench_{uuid.uuid4().hex[:10]}"
    database_url = create_database(outer.database_url, database)
    try:
        migrate(database_url)
        settings = load_settings(
            {**os.environ, "DATABASE_URL": database_url, "STORAGE_DIR": str(base / "storage")}, dotenv=None
        )
        data_dir = base / "data" / "projects"
        begun = time.perf_counter()
        stats = build_store(data_dir, args.projects, args.positions, args.files)
        build_s = time.perf_counter() - begun

        report = asyncio.run(migrate_store(settings, data_dir, batch_size=args.batch_size))
        rerun = asyncio.run(migrate_store(settings, data_dir, batch_size=args.batch_size))
        verify = None if args.no_verify else asyncio.run(verify_store(settings, data_dir))
    finally:
        drop_database(outer.database_url, database)
        shutil.rmtree(base, ignore_errors=True)
        stop_servers(outer, started_servers)

    result = {
        "benchmark": "migrate_files",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "store": {
            "projects": stats.projects,
            "positions": stats.positions,
            "documents": stats.files,
            "bytes": stats.bytes,
            "build_s": round(build_s, 3),
        },
        "migrate": {
            "total_s": report.duration_s,
            "projects_per_s": round(report.projects_migrated / report.duration_s, 1) if report.duration_s else None,
            "positions_per_s": round(report.positions / report.duration_s) if report.duration_s else None,
            "projects_migrated": report.projects_migrated,
            "projects_failed": report.projects_failed,
            "positions": report.positions,
            "audit_results": report.audit_results,
            "documents": report.documents,
            "bytes_copied": report.bytes_copied,
            "batch_size": args.batch_size,
            "budget_s": MIGRATION_BUDGET_S,
            "within_budget": report.duration_s < MIGRATION_BUDGET_S,
        },
        "rerun_unchanged": {"total_s": rerun.duration_s, "projects_unchanged": rerun.projects_unchanged},
        "verify": None
        if verify is None
        else {"total_s": verify.duration_s, "ok": verify.ok, "projects_equal": verify.projects_equal},
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text + "\n", encoding="utf-8")
    return 0 if report.ok and report.duration_s < MIGRATION_BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
