"""Upload to audited: a 2,000-position budget through parse, enrich and audit, with real processes.

Not a test. Starts one API process and one worker (granian and `app worker`, like production) on a
database and Redis db number of their own, uploads a CSV budget of POSITIONS positions, and waits
until the audit job the pipeline queues has completed. Reports the time from the upload request to
the audit's completion, and each job's own duration (from its row: started_at → completed_at) and wait
(created_at → started_at: the hand-off from the upload or the previous job, queue and dispatcher).
Target: upload to audited <= 3 s for 2,000 positions.

The positions are the real ones of the exports in ../shared/samples when that folder is there
(every position of every sample, cycled; a repeated position gets an object suffix, so no two
descriptions are the same — the fuzzy catalogue search cannot lean on repeats), else generated ones.

    .venv/bin/python loadtests/bench_pipeline.py [--positions 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

REPORT = ROOT / "loadtests" / "reports" / "pipeline.json"
# ../shared/samples next to the checkout (or next to the folder of worktrees).
SAMPLES = next((p / "shared" / "samples" for p in ROOT.parents if (p / "shared" / "samples").is_dir()), Path("-"))
TARGET_SECONDS = 3.0

_WORDS = [
    ("Výkop jámy v hornině tř. 3", "m3"),
    ("Bednění stěn nosných zřízení", "m2"),
    ("Výztuž základových desek z betonářské oceli B500B", "t"),
    ("Zdivo nosné z cihel děrovaných tl. 300 mm", "m2"),
    ("Hydroizolace spodní stavby pásy asfaltovými", "m2"),
    ("Montáž potrubí z trub PVC hrdlových DN 150", "m"),
    ("Násyp z hrubého kameniva frakce 32-63", "m3"),
    ("Omítka vápenocementová vnitřních stěn štuková", "m2"),
    ("Dlažba z betonových dlaždic do lože z kameniva", "m2"),
    ("Přesun hmot pro budovy výšky do 12 m", "t"),
]


def sample_rows() -> list[tuple[str, str, str]]:
    """(code, description, unit) of every position of the sample exports, if they are there."""
    from app.domain.documents.parsing import extract

    rows: list[tuple[str, str, str]] = []
    if not SAMPLES.is_dir():
        return rows
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix not in (".xml", ".xlsx"):
            continue
        try:
            parsed = extract(path.read_bytes(), path.name, schedules_as_text=False)
        except Exception:  # a sample our parsers refuse is simply not used
            continue
        for position in parsed.positions:
            if position.description:
                rows.append((position.code or "", position.description, position.unit or ""))
    return rows


def budget_csv(positions: int) -> tuple[bytes, str]:
    rows = sample_rows()
    source = "samples" if rows else "generated"
    if not rows:
        rows = [(f"{100000 + i}", f"{text} – položka {i}", unit) for i, (text, unit) in enumerate(_WORDS * 30)]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Kód", "Popis", "MJ", "Množství", "Jednotková cena"])
    seen: dict[str, int] = {}
    for index, (code, description, unit) in enumerate(itertools.islice(itertools.cycle(rows), positions)):
        repeat = seen.get(description, 0)
        seen[description] = repeat + 1
        text = description if repeat == 0 else f"{description} (SO {repeat + 1:02d})"
        writer.writerow([code, text, unit, f"{index % 97 + 1},5", f"{100 + index % 900},00"])
    return out.getvalue().encode("cp1250", errors="replace"), source


async def run(settings: Any, logs: Path, positions: int) -> dict[str, Any]:
    import httpx

    from tests.support.live import (
        create_live_user,
        live_env,
        start_api,
        start_worker,
        wait_for_worker,
        wait_until_ready,
    )

    env = live_env(settings, LOG_LEVEL="WARNING", RATE_LIMIT_UPLOAD="1000/minute")
    api = start_api(env, logs, name="bench-api")
    worker = start_worker(env, logs, name="bench-worker")
    data, source = budget_csv(positions)
    try:
        await asyncio.gather(wait_until_ready(api), wait_for_worker(settings, worker))
        owner = await create_live_user(settings)
        async with httpx.AsyncClient(base_url=api.url, headers=owner.headers, timeout=60) as client:
            project = (
                await client.post("/api/projects", json={"name": "Pipeline bench", "workflow": "workflow_a"})
            ).json()
            started = time.perf_counter()
            upload = await client.post(
                f"/api/projects/{project['id']}/documents", files={"file": ("rozpocet.csv", data, "text/csv")}
            )
            upload.raise_for_status()
            jobs: list[dict[str, Any]] = []
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                jobs = (await client.get(f"/api/projects/{project['id']}/jobs", params={"limit": 50})).json()["items"]
                audit = [j for j in jobs if j["job_type"] == "audit_project"]
                if audit and audit[0]["status"] in ("completed", "failed", "cancelled"):
                    break
                if any(j["status"] == "failed" for j in jobs):
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
    finally:
        api.process.stop()
        worker.stop()

    def seconds(job: dict[str, Any]) -> float | None:
        import datetime

        if not job.get("started_at") or not job.get("completed_at"):
            return None
        start = datetime.datetime.fromisoformat(job["started_at"])
        end = datetime.datetime.fromisoformat(job["completed_at"])
        return round((end - start).total_seconds(), 3)

    def waited(job: dict[str, Any]) -> float | None:
        """From the row's creation (the upload, or the previous job's transaction) to the start of its run."""
        import datetime

        if not job.get("started_at"):
            return None
        start = datetime.datetime.fromisoformat(job["started_at"])
        return round((start - datetime.datetime.fromisoformat(job["created_at"])).total_seconds(), 3)

    stages = {
        job["job_type"]: {"status": job["status"], "seconds": seconds(job), "waited_seconds": waited(job)}
        for job in reversed(jobs)
    }
    audited = stages.get("audit_project", {}).get("status") == "completed"
    return {
        "benchmark": "upload to audited (CSV budget → parse → enrich → audit), API + one worker",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "positions": positions,
        "positions_from": source,
        "upload_to_audited_seconds": round(elapsed, 3) if audited else None,
        "jobs": stages,
        "target_seconds": TARGET_SECONDS,
        "met": audited and elapsed <= TARGET_SECONDS,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=2000)
    args = parser.parse_args()

    import msgspec

    from app.config import load_settings
    from app.lib.infra import ensure_servers, migrate, stop_servers
    from tests.support.servers import isolated

    outer = load_settings()
    started = ensure_servers(outer)
    try:
        with isolated(outer.database_url, outer.redis_url) as servers, tempfile.TemporaryDirectory() as logs:
            migrate(servers.database_url)
            settings = msgspec.structs.replace(
                outer, DATABASE_URL=servers.database_url, REDIS_URL=servers.redis_url, REDIS_NAMESPACE=servers.namespace
            )
            report = asyncio.run(run(settings, Path(logs), args.positions))
    finally:
        stop_servers(outer, started)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
