"""The `generate_budget_from_drawings` job (Workflow B): documents → element quantities → priced positions
→ a `generated` budget version → its audit.

Nothing is invented: an element whose volume no document states (nor its dimensions give) is listed
in the result's `not_found` and gets no derived materials; a material without a catalogue item keeps
its quantity without code and price (listed in `unpriced`). Generating again from unchanged
documents makes no new version. The project is `parsing` while the documents are read, then
`auditing` when the audit of the new version was queued (`completed` when no audit job exists).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec

from app.db.models import BackgroundJob, Project
from app.domain.generation.extract import Element, Extraction, extract_elements, merge_extractions
from app.domain.generation.materials import GenerationParameters
from app.domain.generation.schemas import GenerateRequest
from app.domain.generation.services import (
    DocumentText,
    GeneratedLine,
    build_positions,
    document_texts,
    load_catalogue,
    store_generated_budget,
)
from app.domain.jobs.chaining import queue_follow_up
from app.domain.jobs.context import JobContext, PermanentJobError, gives_up
from app.domain.jobs.progress import ProgressReporter
from app.domain.projects.stages import mark_failed_after_rollback, set_project_status, set_project_status_now


def parameters_from(payload: dict[str, Any]) -> GenerationParameters:
    try:
        request = msgspec.convert(
            {k: v for k, v in payload.items() if k != "queued_by_job_id"}, GenerateRequest, strict=False
        )
        return GenerationParameters.with_overrides(request.formwork_m2_per_m3, request.reinforcement_kg_per_m3)
    except (msgspec.ValidationError, ValueError) as exc:
        raise PermanentJobError(f"invalid generation parameters: {exc}") from exc


def _extract_all(texts: list[DocumentText]) -> Extraction:
    return merge_extractions(
        [extract_elements(text.text, document=text.filename, document_id=str(text.document_id)) for text in texts]
    )


def _element_summary(element: Element, lines: list[GeneratedLine]) -> dict[str, Any]:
    summary: dict[str, Any] = msgspec.to_builtins(element)
    summary.pop("geometry", None)
    summary["materials"] = [
        {
            "material": line.need.material,
            "quantity": str(line.need.quantity),
            "unit": line.position.unit,
            "basis": line.need.basis,
            "code": line.position.code,
            "unit_price": str(line.position.unit_price) if line.position.unit_price is not None else None,
        }
        for line in lines
        if line.element is element
    ]
    return summary


async def generate_budget_job(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    if job.project_id is None:
        raise PermanentJobError("generate_budget_from_drawings needs a project")
    parameters = parameters_from(job.payload)
    project_id = job.project_id
    previous = await set_project_status_now(ctx, project_id, "parsing")
    if previous is None:
        raise PermanentJobError("the project no longer exists")
    try:
        return await _generate(ctx, job, progress, parameters, previous)
    except Exception as exc:
        if gives_up(ctx, job, exc):
            mark_failed_after_rollback(ctx, project_id)
        raise


async def _generate(
    ctx: JobContext, job: BackgroundJob, progress: ProgressReporter, parameters: GenerationParameters, previous: str
) -> dict[str, Any]:
    assert job.project_id is not None
    session = ctx.session
    await progress(0.05, "Reading the project's documents", current_step="read", total_steps=4)
    texts, unreadable = await document_texts(session, job.project_id)

    await progress(0.3, f"Finding element quantities in {len(texts)} documents", current_step="extract")
    extraction = await asyncio.to_thread(_extract_all, texts)

    await progress(0.5, f"Pricing {len(extraction.elements)} elements from the catalogue", current_step="price")
    catalogue, catalogue_source = await load_catalogue(session)
    lines = build_positions(extraction.elements, parameters, catalogue)

    await progress(0.7, f"Storing {len(lines)} generated positions", current_step="store")
    details = {
        "job_id": str(job.id),
        "documents": [{"document_id": str(t.document_id), "filename": t.filename} for t in texts],
        "elements": len(extraction.elements),
        "not_found": len(extraction.not_found),
        "catalogue": catalogue_source,
    }
    project, created = await store_generated_budget(
        session, job.project_id, lines, trigger_details=details, user_id=job.user_id
    )
    follow_ups: list[BackgroundJob] = []
    if created:
        audit = await queue_follow_up(
            ctx, job, "audit_project", {"version": project.current_version}, project_owner_id=project.owner_id
        )
        follow_ups = [audit] if audit is not None else []
    status = _status_after(previous, project, created, follow_ups)
    set_project_status(project, status)
    await progress(1.0, "Generated", current_step="done")

    total = sum((line.position.column_values()["total_price"] or Decimal(0) for line in lines), Decimal(0))
    result: dict[str, Any] = {
        "version": project.current_version if lines else None,
        "version_created": created,
        "positions": len(lines),
        "total_cost": str(total),
        "elements": [_element_summary(element, lines) for element in extraction.elements],
        "not_found": msgspec.to_builtins(extraction.not_found),
        "conflicts": extraction.conflicts,
        "catalogue": catalogue_source,
        "catalogue_notes": sorted({line.catalogue_note for line in lines if line.catalogue_note}),
        "unpriced": [
            f"{line.element.name}: {line.need.material} {line.need.quantity} {line.need.unit}"
            for line in lines
            if line.position.unit_price is None
        ],
        "documents": [
            {"document_id": str(t.document_id), "filename": t.filename, "read_from": t.read_from} for t in texts
        ],
        "unreadable_documents": msgspec.to_builtins(unreadable),
        "parameters": msgspec.to_builtins(parameters),
        "project_status": status,
        "follow_up_jobs": [{"job_id": str(row.id), "job_type": row.job_type} for row in follow_ups],
    }
    if not lines:
        result["note"] = (
            "No element quantities were found in the documents; nothing was generated. "
            "See not_found for elements named without a volume."
        )
    return result


def _status_after(previous: str, project: Project, created: bool, follow_ups: list[BackgroundJob]) -> str:
    if follow_ups:
        return "auditing"
    if created:
        return "completed"
    if previous in ("parsing", "failed"):
        return "completed" if project.current_version > 0 else "draft"
    return previous
