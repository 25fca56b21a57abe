"""The `export` job: a budget version with its audit as an XLSX or CSV artifact.

The file is written to STORAGE_DIR/artifacts/{job_id}.{ext} through a temporary file and a rename,
so a reader never sees half a file and a retried attempt simply writes it again; the row's
`artifact_path` (relative to STORAGE_DIR) is set in the job's transaction and served by
GET /api/jobs/{id}/artifact. A project without the requested version fails the job at once (retrying
cannot create it).
"""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Any

import msgspec

from app.db.models import BackgroundJob, Project
from app.domain.exports.schemas import ExportRequest
from app.domain.exports.services import load_export
from app.domain.exports.sheets import ExportBudget, write_csv, write_xlsx
from app.domain.jobs.context import JobContext, PermanentJobError
from app.domain.jobs.progress import ProgressReporter
from app.lib.errors import NotFound

ARTIFACTS_DIR = "artifacts"


def artifact_relative_path(job_id: uuid.UUID, export_format: str) -> str:
    return f"{ARTIFACTS_DIR}/{job_id}.{export_format}"


def download_filename(project_name: str, version: int, export_format: str) -> str:
    """An ASCII file name a person recognises: "Most-pres-Vltavu-v3.xlsx"."""
    ascii_name = unicodedata.normalize("NFKD", project_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:80] or "rozpocet"
    return f"{slug}-v{version}.{export_format}"


def write_artifact(budget: ExportBudget, path: Path, export_format: str) -> list[str]:
    """Write through a temporary file in the same directory, then rename (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        sheets: list[str] = []
        if export_format == "xlsx":
            sheets = write_xlsx(budget, temporary)
        else:
            write_csv(budget, temporary)
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return sheets


async def export_job(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    try:
        request = msgspec.convert(
            {k: v for k, v in job.payload.items() if k != "queued_by_job_id"}, ExportRequest, strict=False
        )
    except msgspec.ValidationError as exc:
        raise PermanentJobError(f"invalid export request: {exc}") from exc
    project = await ctx.session.get(Project, job.project_id) if job.project_id else None
    if project is None:
        raise PermanentJobError("the project no longer exists")

    await progress(0.1, "Reading the budget version and its audit", current_step="read", total_steps=3)
    try:
        budget = await load_export(ctx.session, project, request.version)
    except NotFound as exc:
        raise PermanentJobError(exc.detail) from exc

    await progress(0.4, f"Writing {budget.position_count} positions as {request.format}", current_step="write")
    relative = artifact_relative_path(job.id, request.format)
    path = Path(ctx.settings.STORAGE_DIR) / relative
    sheets = await asyncio.to_thread(write_artifact, budget, path, request.format)
    ctx.set_artifact(relative)
    size = await asyncio.to_thread(lambda: path.stat().st_size)

    await progress(1.0, "Exported", current_step="done")
    counts = budget.status_counts()
    return {
        "format": request.format,
        "version": budget.version,
        "positions": budget.position_count,
        "total_cost": str(budget.total),
        "version_total_cost": str(budget.version_total),
        "totals_match": budget.total == budget.version_total,
        "objects": [
            {"label": obj.label, "positions": len(obj.lines), "total": str(obj.total)} for obj in budget.objects
        ],
        "sheets": sheets,
        "status_counts": {status: counts.get(status, 0) for status in ("GREEN", "AMBER", "RED", "none")},
        "artifact": relative,
        "filename": download_filename(project.name, budget.version, request.format),
        "size_bytes": size,
    }
