"""Benchmark: read a generated old-style store of 1,000 projects × 100 positions with read_project.

Not a test. The whole PostgreSQL migration has to take 1,000 projects in < 60 s, so reading the
files must be a small part of that. Prints a JSON report and writes it to
loadtests/reports/filestore_read.json.

    .venv/bin/python loadtests/bench_filestore_read.py [--projects 1000] [--positions 100] [--files 4]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `tests.fixtures` importable
    sys.path.insert(0, str(ROOT))

from app.domain.filestore import LegacyProjectError, fingerprint, read_project, scan_store  # noqa: E402
from tests.fixtures.legacy_store import build_store  # noqa: E402

MIGRATION_BUDGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=100)
    parser.add_argument("--files", type=int, default=4, help="documents per project")
    parser.add_argument("--dir", type=Path, default=None, help="where to build the store (default: a /tmp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated store")
    parser.add_argument("--report", type=Path, default=ROOT / "loadtests" / "reports" / "filestore_read.json")
    args = parser.parse_args()

    base = args.dir or Path(tempfile.mkdtemp(prefix="bench_filestore_", dir="/tmp"))
    data_dir = base / "data" / "projects"
    try:
        started = time.perf_counter()
        stats = build_store(data_dir, args.projects, args.positions, args.files)
        build_s = time.perf_counter() - started

        started = time.perf_counter()
        project_dirs = list(scan_store(data_dir))
        fingerprints = {d.name: fingerprint(d) for d in project_dirs}
        fingerprint_s = time.perf_counter() - started

        per_project: list[float] = []
        positions = audit_results = files = 0
        hashed_bytes = 0
        errors: list[str] = []
        started = time.perf_counter()
        for project_dir in project_dirs:
            one = time.perf_counter()
            try:
                project = read_project(project_dir)
            except LegacyProjectError as exc:
                errors.append(str(exc))
                continue
            per_project.append(time.perf_counter() - one)
            positions += len(project.positions)
            audit_results += len(project.audit_results)
            files += len(project.files)
            hashed_bytes += sum(f.size for f in project.files)
        read_s = time.perf_counter() - started
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    per_project.sort()
    report = {
        "benchmark": "filestore_read",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "store": {
            "projects": stats.projects,
            "positions": stats.positions,
            "documents": stats.files,
            "bytes": stats.bytes,
        },
        "build_s": round(build_s, 3),
        "scan_and_fingerprint_s": round(fingerprint_s, 3),
        "fingerprints": len(fingerprints),
        "read": {
            "projects": len(per_project),
            "errors": errors,
            "positions": positions,
            "audit_results": audit_results,
            "files_hashed": files,
            "bytes_hashed": hashed_bytes,
            "total_s": round(read_s, 3),
            "projects_per_s": round(len(per_project) / read_s, 1) if read_s else None,
            "positions_per_s": round(positions / read_s) if read_s else None,
            "per_project_ms": {
                "mean": round(statistics.fmean(per_project) * 1000, 3) if per_project else None,
                "p50": round(per_project[len(per_project) // 2] * 1000, 3) if per_project else None,
                "p95": round(per_project[int(len(per_project) * 0.95)] * 1000, 3) if per_project else None,
                "max": round(per_project[-1] * 1000, 3) if per_project else None,
            },
            "share_of_migration_budget": round(read_s / MIGRATION_BUDGET_S, 4),
        },
        "note": "files were just written, so they are read from the page cache",
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text + "\n", encoding="utf-8")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
