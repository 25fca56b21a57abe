"""Parser benchmark: speed and memory on real-shaped budgets, and peak memory on hostile files.

- Budgets: a 1,500-position UNIXML and a 2,000-position KROS Excel, each parsed 5 times (targets
  < 1 s median, < 200 MB peak RSS).
- The largest documents the bounds let through, parsed once, peak RSS under the stated bound
  (``limits.PEAK_MEMORY_MB``): a 43 MB CSV of 100,000 positions (``MAX_POSITIONS``), a 46 MB UNIXML of
  36,000 positions (just under ``MAX_XML_TAGS``) and an xlsx sheet of 3.8 M cells of shared strings.
- Hostile files, each parsed once and each to end as a ``DocumentParseError`` with its reason, with
  peak RSS under the stated bound: a zip bomb near the 50 MB upload limit (honest about its size,
  and one that lies about it), a zip of 500,000 members, a tiny xlsx whose used range is billions of
  cells, a shared string copied into 30,000 cells (900 M characters), an ODS repeat bomb, an xls
  reaching its last cell, and 48 MB of XML tags.

Each file is parsed in a fresh child process, so peak RSS belongs to the parse and not to the
generation of the file. Reports JSON on stdout and in loadtests/reports/parsers.json; exits 1 when
a target is missed.

    .venv/bin/python loadtests/bench_parsers.py
"""

from __future__ import annotations

import io
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
BOUND_POSITIONS = 100_000
HOSTILE_SECONDS = 20.0  # even a refused file must not keep a worker busy long


def _rss_mb() -> float:
    """Peak RSS of this process. VmHWM starts afresh at exec; ru_maxrss keeps the parent's peak from
    before the exec (the parent builds big files), so it is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
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


def child_once(path: str) -> dict[str, object]:
    """Parse the file once, expecting either positions or a ``DocumentParseError``; report peak RSS."""
    from app.domain.budgets.records import DocumentParseError
    from app.domain.documents.parsers import parse_document

    data = Path(path).read_bytes()
    baseline = _rss_mb()
    start = time.perf_counter()
    result: dict[str, object] = {"file_mb": round(len(data) / 2**20, 2)}
    try:
        document = parse_document(data, Path(path).name)
    except DocumentParseError as exc:
        result.update({"refused": True, "reason": str(exc)})
    else:
        result.update({"refused": False, "positions": len(document.positions)})
    result.update(
        {
            "seconds": round(time.perf_counter() - start, 3),
            "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(_rss_mb(), 1),
        }
    )
    return result


def build_boundary_and_hostile_files(directory: Path) -> dict[str, tuple[Path, object]]:
    """name → (file, expected): a number of positions, "refused" (a DocumentParseError) or None (either)."""
    sys.path.insert(0, str(ROOT))
    import xlwt

    from tests.fixtures.budget_files import csv_bytes, large_budget, unixml_bytes
    from tests.fixtures.hostile_files import (
        at_the_bounds,
        dense_range_bomb,
        large_zip_bomb,
        many_members_zip,
        ods_repeat_bomb,
        shared_string_bomb,
    )

    header = ("Kód", "Popis", "MJ", "Množství", "J.cena [CZK]", "Cena celkem")
    text = "Železobetonová základová deska z betonu C 25/30 XC2 XA1, včetně výztuže a bednění; " * 5
    rows = [header] + [
        (str(100_000_000 + i), f"{text}položka {i}", "m3", "12,5", "4 150", "51 875") for i in range(BOUND_POSITIONS)
    ]
    book = xlwt.Workbook()
    book.add_sheet("Rozpočet").write(65535, 255, "x")
    xls = io.BytesIO()
    book.save(xls)
    files: dict[str, tuple[bytes, object]] = {
        # the largest documents the bounds let through
        "csv_100000_positions.csv": (csv_bytes(rows), BOUND_POSITIONS),
        "unixml_36000_positions.xml": (unixml_bytes(large_budget(36_000)), 36_000),
        "xlsx_3800000_cells.xlsx": (at_the_bounds(), None),
        # hostile files
        "zip_bomb_48mb.xlsx": (large_zip_bomb(48), "refused"),
        "zip_bomb_48mb_lying.xlsx": (large_zip_bomb(48, lying=True), "refused"),
        "zip_500000_members.xlsx": (many_members_zip(500_000), "refused"),
        "dense_range_bomb.xlsx": (dense_range_bomb(), "refused"),
        "shared_string_bomb.xlsx": (shared_string_bomb(length=30_000, cells=30_000), "refused"),
        "ods_repeat_bomb.ods": (ods_repeat_bomb(3_000, 3_000), "refused"),
        "xls_last_cell.xls": (xls.getvalue(), "refused"),
        "xml_tags_48mb.xml": (b"<unixml>" + b"<a/>" * (12 * 2**20) + b"</unixml>", "refused"),
    }
    paths = {}
    for name, (data, expected) in files.items():
        path = directory / name
        path.write_bytes(data)
        paths[path.stem] = (path, expected)
    return paths


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


def _run_child(mode: str, path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, mode, str(path)], check=True, capture_output=True, text=True, cwd=ROOT
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main() -> int:
    from app.domain.documents.parsers.limits import PEAK_MEMORY_MB

    results: dict[str, object] = {}
    bounded: dict[str, object] = {}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for case, path in build_files(Path(tmp)).items():
            result = _run_child("--child", path)
            expected = CASES[case][1]
            result["meets_targets"] = (
                result["median_s"] < TARGET_SECONDS
                and result["peak_rss_mb"] < TARGET_MB
                and result["tracemalloc_peak_mb"] < TARGET_MB
                and result["positions"] == expected
            )
            ok = ok and bool(result["meets_targets"])
            results[case] = result
        for case, (path, expected) in build_boundary_and_hostile_files(Path(tmp)).items():
            result = _run_child("--once", path)
            if expected == "refused":
                outcome_ok = result["refused"] is True and float(str(result["seconds"])) < HOSTILE_SECONDS
            else:
                outcome_ok = expected is None or result.get("positions") == expected
            result["meets_targets"] = float(str(result["peak_rss_mb"])) < PEAK_MEMORY_MB and outcome_ok
            ok = ok and bool(result["meets_targets"])
            bounded[case] = result
    report = {
        "targets": {
            "median_s": TARGET_SECONDS,
            "memory_mb": TARGET_MB,
            "runs": RUNS,
            "peak_memory_bound_mb": PEAK_MEMORY_MB,
            "hostile_seconds": HOSTILE_SECONDS,
        },
        "python": sys.version.split()[0],
        "results": results,
        "bounds": bounded,
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
    if len(sys.argv) == 3 and sys.argv[1] == "--once":
        print(json.dumps(child_once(sys.argv[2])))
        sys.exit(0)
    sys.exit(main())
