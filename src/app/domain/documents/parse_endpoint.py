"""POST /api/projects/{id}/parse → 202 `{job_id, status}`: parse every document of the project again.

Parsing is idempotent (see app.domain.documents.parsing): documents whose positions did not change
make no new version, so re-parsing after a parser upgrade only touches what really changed.
"""

from __future__ import annotations

import uuid

from litestar import post
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.filestore.api import refuse_writes_in_files_only
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.schemas import JobAccepted
from app.domain.jobs.services import start_project_job


@post(
    "/api/projects/{project_id:uuid}/parse",
    status_code=HTTP_202_ACCEPTED,
    tags=["jobs"],
    opt={"rate_limit_group": "jobs"},
    summary="Parse all documents of the project again (a parse_document job)",
    guards=[refuse_writes_in_files_only],
)
async def start_parse_job(
    project_id: uuid.UUID,
    current_user: SessionUser,
    db_session: AsyncSession,
    settings: Settings,
    job_queues: JobQueues,
) -> JobAccepted:
    """Queue a `parse_document` job over all the project's documents."""
    row = await start_project_job(
        db_session,
        current_user,
        project_id,
        job_type="parse_document",
        payload={},
        settings=settings,
        queues=job_queues,
    )
    return JobAccepted(job_id=row.id, status=row.status)
