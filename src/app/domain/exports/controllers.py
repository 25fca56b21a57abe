"""POST /api/projects/{id}/export `{format: xlsx|csv, version?}` → 202 `{job_id, status}`.

The file is fetched, once the job completed, from GET /api/jobs/{job_id}/artifact.
"""

from __future__ import annotations

import uuid

from litestar import post
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.exports.schemas import ExportRequest
from app.domain.exports.services import start_export
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.schemas import JobAccepted


@post(
    "/api/projects/{project_id:uuid}/export",
    status_code=HTTP_202_ACCEPTED,
    tags=["jobs"],
    opt={"rate_limit_group": "jobs"},
    summary="Export the budget with its audit (XLSX or CSV) as a job",
)
async def start_export_job(
    project_id: uuid.UUID,
    current_user: SessionUser,
    db_session: AsyncSession,
    settings: Settings,
    job_queues: JobQueues,
    data: ExportRequest | None = None,
) -> JobAccepted:
    """Queue an `export` job; fetch the file from GET /api/jobs/{job_id}/artifact when it completed."""
    row = await start_export(
        db_session, current_user, project_id, data or ExportRequest(), settings=settings, queues=job_queues
    )
    return JobAccepted(job_id=row.id, status=row.status)
