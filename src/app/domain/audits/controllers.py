"""HTTP face of the audit: the latest version's verdicts grouped by position, and starting an audit."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.audits.resolutions import FindingRead, FindingResolve, reopen_finding, resolve_finding
from app.domain.audits.schemas import AuditReport, AuditRequest
from app.domain.audits.services import audit_report, exposure_table_named
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.schemas import JobAccepted
from app.domain.jobs.services import start_project_job
from app.domain.kb.services import KnowledgeBase
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.domain.projects.stages import engine_of
from app.lib.input_bounds import OptionalVersionNumberParameter
from app.lib.pagination import limit_offset_dependency


class AuditController(Controller):
    path = "/api/projects/{project_id:uuid}/audit"
    tags = ["audit"]
    dependencies = limit_offset_dependency()

    @get()
    async def get_audit(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        db_session: NamedDependency[AsyncSession],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        limit_offset: NamedDependency[LimitOffset],
        status: Annotated[Literal["GREEN", "AMBER", "RED"] | None, QueryParameter()] = None,
        version: OptionalVersionNumberParameter = None,
    ) -> AuditReport:
        """The latest version's audit (or `version=n`'s, as that version's own audit found it): per position
        the orchestrator's verdict and each expert's (`status` filters by the final verdict); `summary`
        counts the whole version. Owner or administrator only."""
        return await audit_report(
            db_session,
            redis,
            current_user,
            project_id,
            limit_offset,
            status=status,
            version_number=version,
            ttl_seconds=settings.CACHE_TTL_SECONDS,
        )

    @post(
        status_code=HTTP_202_ACCEPTED,
        tags=["jobs"],
        opt={"rate_limit_group": "jobs", WRITES_PROJECT_DATA: True},
        summary="Audit the latest budget version (an audit_project job, queue high)",
    )
    async def start_audit_job(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        job_queues: NamedDependency[JobQueues],
        redis: NamedDependency[Redis],
        data: AuditRequest | None = None,
    ) -> JobAccepted:
        """Queue an `audit_project` job; a re-audit of the same version replaces the earlier one."""
        request = data or AuditRequest()
        if request.exposure_table is not None:  # an unknown table is the caller's error now, not a failed job
            reference = await KnowledgeBase(engine_of(db_session), redis).reference_data()
            exposure_table_named(reference.exposure_tables, request.exposure_table)
        row = await start_project_job(
            db_session,
            current_user,
            project_id,
            job_type="audit_project",
            payload={"exposure_table": request.exposure_table} if request.exposure_table else {},
            settings=settings,
            queues=job_queues,
        )
        return JobAccepted(job_id=row.id, status=row.status)

    @post(
        "/findings/{finding_id:uuid}/resolution",
        status_code=HTTP_200_OK,
        opt={WRITES_PROJECT_DATA: True},
        summary="Resolve a finding (accepted_as_is | fixed | disputed, with a note)",
    )
    async def resolve_finding(
        self,
        project_id: FromPath[uuid.UUID],
        finding_id: FromPath[uuid.UUID],
        data: FindingResolve,
        current_user: NamedDependency[SessionUser],
        db_session: NamedDependency[AsyncSession],
    ) -> FindingRead:
        """Resolve a verdict (`finding_id`: a verdict's id from `GET …/audit`). It stays resolved through
        re-audits while the position is unchanged; the project counts it beside the open ones."""
        return await resolve_finding(db_session, current_user, project_id, finding_id, data.resolution, data.note)

    @delete(
        "/findings/{finding_id:uuid}/resolution",
        status_code=HTTP_200_OK,
        opt={WRITES_PROJECT_DATA: True},
        summary="Reopen a resolved finding",
    )
    async def reopen_finding(
        self,
        project_id: FromPath[uuid.UUID],
        finding_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        db_session: NamedDependency[AsyncSession],
    ) -> FindingRead:
        """Reopen a finding: it counts as open again."""
        return await reopen_finding(db_session, current_user, project_id, finding_id)
