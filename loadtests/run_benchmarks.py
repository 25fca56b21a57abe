"""Runs every benchmark in loadtests/ one after another and gathers their JSON reports into
loadtests/reports/summary.json. Each script checks its own targets and exits non-zero on a miss."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "loadtests" / "reports"
BENCHMARKS = [
    ("parsers", "bench_parsers.py", "parsers.json"),
    ("audit", "bench_audit.py", "audit.json"),
    ("audit_e2e", "bench_audit_e2e.py", "audit_e2e.json"),
    ("audit_quality", "bench_audit_quality.py", "audit_quality.json"),
    ("patch", "bench_patch.py", "patch.json"),
    ("pipeline", "bench_pipeline.py", "pipeline.json"),
    ("http", "bench_http.py", "http.json"),
    ("filestore_read", "bench_filestore_read.py", "filestore_read.json"),
    ("migrate_files", "bench_migrate_files.py", "migrate_files.json"),
    ("websocket", "bench_websocket.py", "websocket.json"),
    ("assistant", "bench_assistant.py", "assistant.json"),
    ("recovery", "bench_recovery.py", "recovery.json"),
    ("deploy", "deploy_zero_downtime.py", "deploy.json"),
]


def main() -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {}
    failed = []
    for name, script, report in BENCHMARKS:
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(ROOT / "loadtests" / script)], cwd=ROOT, check=False)
        path = REPORTS / report
        summary[name] = {
            "exit_code": result.returncode,
            "seconds": round(time.monotonic() - started, 1),
            "report": json.loads(path.read_text()) if path.is_file() else None,
        }
        if result.returncode != 0:
            failed.append(name)
    (REPORTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps({"failed": failed, "summary": str(REPORTS / "summary.json")}))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
