"""The `enrich` job (queue default): match the latest version's positions to the catalogue, then hand on.

Payload: ``{"then": ["audit_project"]}`` (what the parse job and ``POST /enrich`` send) queues those jobs
in this job's own transaction once enrichment is stored; the project then says ``auditing``, else
``completed``. While the job runs the project says ``enriching`` and its progress follows the job's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from app.db.models import BackgroundJob, utc_now
from app.domain.jobs.chaining import THEN_KEY, queue_follow_up
from app.domain.jobs.context import JobContext, PermanentJobError
from app.domain.jobs.progress import ProgressReporter
from app.domain.kb.enrichment import EnrichmentService
from app.domain.kb.services import KnowledgeBase
from app.domain.projects.services import lock_project
from app.domain.projects.stages import ProjectStage, engine_of


def follow_up_job_types(payload: dict[str, Any]) -> list[str]:
    """The job types named under ``then`` (a list of names); anything else is a permanent error."""
    names = payload.get(THEN_KEY, [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise PermanentJobError(f"payload {THEN_KEY!r} must be a list of job type names")
    return names


async def enrich_project(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    if job.project_id is None:
        raise PermanentJobError("enrich needs a project")
    project_id = job.project_id
    follow_ups = follow_up_job_types(job.payload)
    engine = engine_of(ctx.session)
    stage = ProjectStage(ctx.commit_context(), project_id, "enriching")
    await stage.enter()
    with stage.failed_when_given_up(ctx, job):
        outcome = await EnrichmentService(ctx.session, KnowledgeBase(engine, ctx.redis)).enrich(
            project_id, progress=stage.follow(progress)
        )
        project = await lock_project(ctx.session, None, project_id)
        queued = []
        if outcome.version is not None:
            for index, name in enumerate(follow_ups):
                row = await queue_follow_up(
                    ctx,
                    job,
                    name,
                    {"version": outcome.version, THEN_KEY: follow_ups[index + 1 :]},
                    project_owner_id=project.owner_id,
                )
                if row is not None:
                    queued.append({"job_id": str(row.id), "job_type": name})
                    break  # the next one queues the rest
        project.status = "auditing" if any(q["job_type"] == "audit_project" for q in queued) else "completed"
        project.progress = Decimal(100)
        project.completed_at = utc_now() if project.status == "completed" else None
        await ctx.session.flush()
    await progress(1.0, f"Enriched {outcome.positions} positions", current_step="done")
    return {**msgspec.to_builtins(outcome), "queued": queued, "project_status": project.status}
