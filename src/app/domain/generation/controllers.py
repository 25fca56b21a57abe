"""POST /api/projects/{id}/generate → 202 `{job_id, status}`: Workflow B, a budget from the project's documents."""

from __future__ import annotations

import uuid

import msgspec
from litestar import post
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.generation.materials import GenerationParameters
from app.domain.generation.schemas import GenerateRequest
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.schemas import JobAccepted
from app.domain.jobs.services import start_project_job
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.lib.errors import InvalidInput, field_error


@post(
    "/api/projects/{project_id:uuid}/generate",
    status_code=HTTP_202_ACCEPTED,
    tags=["jobs"],
    opt={"rate_limit_group": "jobs", WRITES_PROJECT_DATA: True},
    summary="Workflow B: generate a budget from the project's drawings and documents (a job on the high queue)",
)
async def start_generate_job(
    project_id: uuid.UUID,
    current_user: SessionUser,
    db_session: AsyncSession,
    settings: Settings,
    job_queues: JobQueues,
    data: GenerateRequest | None = None,
) -> JobAccepted:
    """Queue a `generate_budget_from_drawings` job; 400 for an unknown element kind or a negative ratio."""
    request = data or GenerateRequest()
    try:
        GenerationParameters.with_overrides(request.formwork_m2_per_m3, request.reinforcement_kg_per_m3)
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[field_error("ratios", str(exc))]) from exc
    row = await start_project_job(
        db_session,
        current_user,
        project_id,
        job_type="generate_budget_from_drawings",
        payload=msgspec.to_builtins(request),
        settings=settings,
        queues=job_queues,
    )
    return JobAccepted(job_id=row.id, status=row.status)
