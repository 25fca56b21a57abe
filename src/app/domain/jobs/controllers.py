"""HTTP face of the jobs domain: read, list, cancel, fetch an artifact, and start a job on a project.

Starting a job on a project is ONE line per endpoint (POST /api/projects/{id}/{action} → 202
`{job_id, status}`), listed in PROJECT_JOB_ENDPOINTS below, e.g.:

    project_job_endpoint("audit", job_type="audit_project"),
    project_job_endpoint("export", job_type="export", payload=ExportRequest),   # body → job payload
"""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter
from litestar.response import File
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models.jobs import JobStatus
from app.domain.accounts.sessions import SessionUser
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.schemas import JobAccepted, JobRead
from app.domain.jobs.services import (
    cancel_job,
    get_job_for,
    job_artifact_path,
    list_project_jobs,
    start_project_job,
)
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.lib.events import EventPublisher
from app.lib.pagination import Page, limit_offset_dependency


class JobController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]

    @get("/{job_id:uuid}")
    async def get_job(
        self, job_id: uuid.UUID, current_user: SessionUser, db_session: AsyncSession, job_queues: JobQueues
    ) -> JobRead:
        """The job's state, from `job:{id}:status` in Redis (falls back to the row)."""
        return await get_job_for(db_session, job_queues, current_user, job_id)

    @post("/{job_id:uuid}/cancel", status_code=HTTP_200_OK)
    async def cancel(
        self,
        job_id: uuid.UUID,
        current_user: SessionUser,
        db_session: AsyncSession,
        job_queues: JobQueues,
        events: EventPublisher,
    ) -> JobRead:
        """Stop a queued or running job (its partial work is rolled back); 409 if it already ended."""
        return await cancel_job(db_session, job_queues, events, current_user, job_id)

    @get("/{job_id:uuid}/artifact")
    async def artifact(
        self, job_id: uuid.UUID, current_user: SessionUser, db_session: AsyncSession, settings: Settings
    ) -> File:
        """The file an export job produced."""
        path, row = await job_artifact_path(db_session, current_user, job_id, settings)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # The export names its file after the project and version (the stored one is named by job id).
        filename = str((row.result_data or {}).get("filename") or path.name)
        return File(path=path, filename=filename, media_type=media_type)


class ProjectJobController(Controller):
    path = "/api/projects"
    tags = ["jobs"]
    dependencies = limit_offset_dependency()

    @get("/{project_id:uuid}/jobs")
    async def list_jobs(
        self,
        project_id: uuid.UUID,
        current_user: SessionUser,
        db_session: AsyncSession,
        limit_offset: LimitOffset,
        status: JobStatus | None = Parameter(query="status", default=None, required=False),
        job_type: str | None = Parameter(query="job_type", default=None, required=False),
    ) -> Page[JobRead]:
        """The project's jobs, newest first; filters `status`, `job_type`; `limit`, `offset`."""
        return await list_project_jobs(
            db_session, current_user, project_id, limit_offset, status=status, job_type=job_type
        )


def project_job_endpoint(
    action: str, *, job_type: str, payload: type[msgspec.Struct] | None = None, summary: str | None = None
) -> HTTPRouteHandler:
    """POST /api/projects/{project_id}/{action} → 202 {job_id, status}; the body (if any) is the payload.

    Counted in the `jobs` rate-limit group and refused (503) while the file store is the writer
    (MIGRATION_MODE=files_only), like every endpoint that starts work on a project.
    """

    async def start(
        project_id: uuid.UUID,
        current_user: SessionUser,
        db_session: AsyncSession,
        settings: Settings,
        job_queues: JobQueues,
        body: dict[str, Any],
    ) -> JobAccepted:
        row = await start_project_job(
            db_session, current_user, project_id, job_type=job_type, payload=body, settings=settings, queues=job_queues
        )
        return JobAccepted(job_id=row.id, status=row.status)

    async def start_without_body(
        project_id: uuid.UUID,
        current_user: SessionUser,
        db_session: AsyncSession,
        settings: Settings,
        job_queues: JobQueues,
    ) -> JobAccepted:
        return await start(project_id, current_user, db_session, settings, job_queues, {})

    async def start_with_body(
        project_id: uuid.UUID,
        data: Any,
        current_user: SessionUser,
        db_session: AsyncSession,
        settings: Settings,
        job_queues: JobQueues,
    ) -> JobAccepted:
        return await start(project_id, current_user, db_session, settings, job_queues, msgspec.to_builtins(data))

    handler: Any = start_without_body
    if payload is not None:
        start_with_body.__annotations__ = {**start_with_body.__annotations__, "data": payload}
        handler = start_with_body
    handler.__name__ = handler.__qualname__ = f"start_{action}_job"
    return post(
        f"/api/projects/{{project_id:uuid}}/{action}",
        status_code=HTTP_202_ACCEPTED,
        tags=["jobs"],
        summary=summary or f"Start a {job_type} job",
        name=f"start_{action}_job",
        opt={"rate_limit_group": "jobs", WRITES_PROJECT_DATA: True},
    )(handler)


# POST /api/projects/{id}/{action} endpoints that start a job, one line each.
PROJECT_JOB_ENDPOINTS: list[HTTPRouteHandler] = [
    project_job_endpoint("recalculate", job_type="recalculate", summary="Recompute version totals and aggregates"),
    project_job_endpoint(
        "parse", job_type="parse_document", summary="Parse all documents of the project again (a parse_document job)"
    ),
]


def jobs_route_handlers() -> list[Any]:
    return [JobController, ProjectJobController, *PROJECT_JOB_ENDPOINTS]
