"""Parser benchmark: a 1,500-position UNIXML and a 2,000-position KROS Excel, each parsed 5 times.

Each file is parsed in a fresh child process, so peak RSS belongs to the parse and not to the
generation of the file. Reports median seconds, peak RSS and tracemalloc peak (MB) as JSON on
stdout and in loadtests/reports/parsers.json; exits 1 when a target (< 1 s, < 200 MB) is missed.

    .venv/bin/python loadtests/bench_parsers.py
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "loadtests" / "reports" / "parsers.json"
RUNS = 5
TARGET_SECONDS = 1.0
TARGET_MB = 200.0
CASES = {"unixml_1500": ("unixml", 1500), "kros_xlsx_2000": ("kros_xlsx", 2000)}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(path: str) -> dict[str, object]:
    """Parse the file ``RUNS`` times, then once more under tracemalloc; runs in its own process."""
    from app.domain.documents.parsers import parse_document

    data = Path(path).read_bytes()
    baseline = _rss_mb()
    timings = []
    document = None
    for _ in range(RUNS):
        start = time.perf_counter()
        document = parse_document(data, Path(path).name)
        timings.append(time.perf_counter() - start)
    assert document is not None
    peak_rss = _rss_mb()
    tracemalloc.start()
    parse_document(data, Path(path).name)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "format": document.format,
        "positions": len(document.positions),
        "warnings": len(document.warnings),
        "file_mb": round(len(data) / 2**20, 2),
        "runs_s": [round(t, 4) for t in timings],
        "median_s": round(statistics.median(timings), 4),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak_rss, 1),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
    }


def build_files(directory: Path) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.budget_files import kros_xlsx_bytes, large_budget, unixml_bytes

    writers = {"unixml": (unixml_bytes, ".xml"), "kros_xlsx": (kros_xlsx_bytes, ".xlsx")}
    paths = {}
    for case, (kind, positions) in CASES.items():
        writer, suffix = writers[kind]
        path = directory / f"{case}{suffix}"
        path.write_bytes(writer(large_budget(positions)))
        paths[case] = path
    return paths


def main() -> int:
    results: dict[str, object] = {}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for case, path in build_files(Path(tmp)).items():
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path)],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            result = json.loads(out.stdout)
            expected = CASES[case][1]
            result["meets_targets"] = (
                result["median_s"] < TARGET_SECONDS
                and result["peak_rss_mb"] < TARGET_MB
                and result["tracemalloc_peak_mb"] < TARGET_MB
                and result["positions"] == expected
            )
            ok = ok and bool(result["meets_targets"])
            results[case] = result
    report = {
        "targets": {"median_s": TARGET_SECONDS, "memory_mb": TARGET_MB, "runs": RUNS},
        "python": sys.version.split()[0],
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2])))
        sys.exit(0)
    sys.exit(main())
