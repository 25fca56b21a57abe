"""The `parse_document` job: stored files → budget versions, document fields, project status, follow-ups.

Payload `{"document_id"}` parses one document (queued by an upload); an empty payload parses every
document of the project (POST /api/projects/{id}/parse). `{"follow_up": false}` parses without
queueing enrichment.

A file that cannot be read is the uploader's problem, not the worker's: the document ends `failed`
with `parse_error` and the JOB COMPLETES, its result saying which documents failed and why. (Failing
the job would roll back its transaction — and with it the document's failed state — and retrying
cannot fix a broken file.) Unexpected errors (database, storage) fail the attempt and are retried;
a stored file that is missing fails the job at once.

Project status: `parsing` while the job runs; then `enriching` (or `auditing`) when a new version
was made in a Workflow A project and that phase's job was queued, `completed` when a new version
was made and no further phase exists, `failed` when nothing could be parsed and the project has no
budget, otherwise the status it had before.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.db.models import BackgroundJob, Project, ProjectDocument
from app.domain.budgets.records import DocumentParseError
from app.domain.documents.parsing import (
    DocumentOutcome,
    StoredFileMissing,
    parse_stored_document,
    store_parse_failure,
    store_parsed_document,
)
from app.domain.jobs.chaining import THEN_KEY, queue_follow_up
from app.domain.jobs.context import JobContext, PermanentJobError, gives_up
from app.domain.jobs.progress import ProgressReporter
from app.domain.projects.services import lock_project
from app.domain.projects.stages import mark_failed_after_rollback, set_project_status, set_project_status_now

USER_ERROR_NOTE = (
    "Documents that cannot be read are user errors: they are marked failed with parse_error and the job "
    "completes; fix the file and upload it again."
)


async def parse_document_job(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    if job.project_id is None:
        raise PermanentJobError("parse_document needs a project")
    project_id = job.project_id
    documents = await _documents_to_parse(ctx, job)
    previous_status = await set_project_status_now(ctx, project_id, "parsing")
    if previous_status is None:
        raise PermanentJobError("the project no longer exists")
    try:
        return await _parse_all(ctx, job, progress, project_id, documents, previous_status)
    except Exception as exc:
        if gives_up(ctx, job, exc):
            mark_failed_after_rollback(ctx, project_id)
        raise


async def _documents_to_parse(ctx: JobContext, job: BackgroundJob) -> list[ProjectDocument]:
    statement = select(ProjectDocument).where(ProjectDocument.project_id == job.project_id)
    raw_id = job.payload.get("document_id")
    if raw_id is not None:
        try:
            document_id = uuid.UUID(str(raw_id))
        except ValueError as exc:
            raise PermanentJobError(f"document_id {raw_id!r} is not a UUID") from exc
        statement = statement.where(ProjectDocument.id == document_id)
    documents = list(
        (await ctx.session.scalars(statement.order_by(ProjectDocument.created_at, ProjectDocument.id))).all()
    )
    if raw_id is not None and not documents:
        raise PermanentJobError(f"document {raw_id} does not exist in this project")
    return documents


async def _parse_all(
    ctx: JobContext,
    job: BackgroundJob,
    progress: ProgressReporter,
    project_id: uuid.UUID,
    documents: list[ProjectDocument],
    previous_status: str,
) -> dict[str, Any]:
    session = ctx.session
    workflow = await session.scalar(select(Project.workflow).where(Project.id == project_id))
    total_steps = max(1, len(documents))
    outcomes: list[DocumentOutcome] = []
    project: Project | None = None
    for index, document in enumerate(documents):
        await progress(
            index / total_steps, f"Reading {document.filename}", current_step="parse", total_steps=total_steps
        )
        try:
            parsed = await parse_stored_document(document, schedules_as_text=workflow == "workflow_b")
        except DocumentParseError as exc:
            outcome, project = await store_parse_failure(session, document.id, str(exc))
        except StoredFileMissing as exc:
            raise PermanentJobError(str(exc)) from exc
        else:
            await progress(
                (index + 0.5) / total_steps,
                f"Storing {len(parsed.positions)} positions of {document.filename}",
                current_step="store",
            )
            outcome, project = await store_parsed_document(
                session, project_id, document.id, parsed, user_id=job.user_id, job_id=job.id
            )
        outcomes.append(outcome)
    if project is None:
        project = await lock_project(session, None, project_id)

    follow_ups = await _queue_follow_ups(ctx, job, project, outcomes, workflow)
    status = _status_after(previous_status, project, outcomes, follow_ups)
    set_project_status(project, status)
    await progress(1.0, "Parsed", current_step="done")
    failed = [outcome for outcome in outcomes if outcome.parse_status == "failed"]
    result: dict[str, Any] = {
        "documents": [outcome_dict(outcome) for outcome in outcomes],
        "parsed": len(outcomes) - len(failed),
        "failed": len(failed),
        "versions_created": sorted({o.version for o in outcomes if o.version_created and o.version is not None}),
        "current_version": project.current_version,
        "project_status": status,
        "follow_up_jobs": [{"job_id": str(row.id), "job_type": row.job_type} for row in follow_ups],
    }
    if failed:
        result["user_errors"] = [f"{outcome.filename}: {outcome.error}" for outcome in failed]
        result["note"] = USER_ERROR_NOTE
    if not documents:
        result["note"] = "The project has no documents to parse."
    return result


def outcome_dict(outcome: DocumentOutcome) -> dict[str, Any]:
    return {name: getattr(outcome, name) for name in outcome.__struct_fields__}


async def _queue_follow_ups(
    ctx: JobContext, job: BackgroundJob, project: Project, outcomes: list[DocumentOutcome], workflow: str | None
) -> list[BackgroundJob]:
    """Workflow A: a new version goes on to enrichment (which is asked to queue the audit), or
    straight to the audit when enrichment is not available."""
    if workflow != "workflow_a" or job.payload.get("follow_up") is False:
        return []
    if not any(outcome.version_created for outcome in outcomes):
        return []
    version = project.current_version
    enrich = await queue_follow_up(
        ctx, job, "enrich", {"version": version, THEN_KEY: ["audit_project"]}, project_owner_id=project.owner_id
    )
    if enrich is not None:
        return [enrich]
    audit = await queue_follow_up(ctx, job, "audit_project", {"version": version}, project_owner_id=project.owner_id)
    return [audit] if audit is not None else []


def _status_after(
    previous: str, project: Project, outcomes: list[DocumentOutcome], follow_ups: list[BackgroundJob]
) -> str:
    if follow_ups:
        return "enriching" if follow_ups[0].job_type == "enrich" else "auditing"
    if any(outcome.version_created for outcome in outcomes):
        return "completed"
    if outcomes and all(outcome.parse_status == "failed" for outcome in outcomes) and project.current_version == 0:
        return "failed"
    if previous in ("parsing", "failed"):  # an interrupted or concurrent parse left it: settle it
        return "completed" if project.current_version > 0 else "draft"
    return previous
