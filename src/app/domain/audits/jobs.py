"""The `audit_project` job (queue high): audit the latest budget version and store every verdict.

Payload (optional): ``{"exposure_table": "EN_206_F1"}``. While the job runs the project says
``auditing`` and its progress follows the job's, which names the position being audited; the job ends
with the project ``completed`` and its RED/AMBER/GREEN counters set, in the job's own transaction.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.db.models import BackgroundJob
from app.domain.audits.services import AuditService
from app.domain.jobs.context import JobContext, PermanentJobError
from app.domain.jobs.progress import ProgressReporter
from app.domain.kb.services import KnowledgeBase
from app.domain.projects.stages import ProjectStage, engine_of


async def audit_project(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    if job.project_id is None:
        raise PermanentJobError("audit_project needs a project")
    project_id = job.project_id
    exposure_table = job.payload.get("exposure_table")
    if exposure_table is not None and not isinstance(exposure_table, str):
        raise PermanentJobError("payload 'exposure_table' must be a table name")
    engine = engine_of(ctx.session)
    stage = ProjectStage(ctx.commit_context(), project_id, "auditing")
    await stage.enter()
    with stage.failed_when_given_up(ctx, job):
        outcome = await AuditService(ctx.session, KnowledgeBase(engine, ctx.redis)).audit(
            project_id, progress=stage.follow(progress), exposure_table=exposure_table, job_id=job.id
        )
    await progress(1.0, f"Audited {outcome.positions} positions", current_step="done")
    return msgspec.to_builtins(outcome)
