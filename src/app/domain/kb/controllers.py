"""HTTP face of the knowledge base: catalogue / price / standards search, and starting an enrichment."""

from __future__ import annotations

import uuid
from typing import Annotated

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.jobs.chaining import THEN_KEY
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.schemas import JobAccepted
from app.domain.jobs.services import start_project_job
from app.domain.kb.schemas import EnrichRequest, KBSearchPage, SearchType
from app.domain.kb.services import KnowledgeBase
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.lib.pagination import limit_offset_dependency


class KnowledgeBaseController(Controller):
    path = "/api/kb"
    tags = ["knowledge base"]
    dependencies = limit_offset_dependency()

    @get("/search")
    async def search(
        self,
        db_engine: NamedDependency[AsyncEngine],
        redis: NamedDependency[Redis],
        limit_offset: NamedDependency[LimitOffset],
        q: Annotated[str, QueryParameter(min_length=1, max_length=200)],
        search_type: Annotated[SearchType, QueryParameter(query="type")] = "catalog",
    ) -> KBSearchPage:
        """Search the reference data through the knowledge-base cache.

        `type`: `code` (codes starting with q), `catalog` (descriptions similar to q, pg_trgm), `price`
        (priced items by code or text, with their price band, and the bands themselves), `standard`
        (exposure classes and strength classes named in q: minimum classes, air entrainment).
        """
        knowledge = KnowledgeBase(db_engine, redis)
        return await knowledge.search(search_type, q, limit=limit_offset.limit, offset=limit_offset.offset)


@post(
    "/api/projects/{project_id:uuid}/enrich",
    status_code=HTTP_202_ACCEPTED,
    tags=["jobs"],
    opt={"rate_limit_group": "jobs", WRITES_PROJECT_DATA: True},
    summary="Match the latest budget version to the catalogue (an enrich job), then audit it",
)
async def start_enrich_job(
    project_id: uuid.UUID,
    current_user: SessionUser,
    db_session: AsyncSession,
    settings: Settings,
    job_queues: JobQueues,
    data: EnrichRequest | None = None,
) -> JobAccepted:
    """Queue an `enrich` job; unless `then_audit` is false, it queues `audit_project` when it is done."""
    request = data or EnrichRequest()
    row = await start_project_job(
        db_session,
        current_user,
        project_id,
        job_type="enrich",
        payload={THEN_KEY: ["audit_project"] if request.then_audit else []},
        settings=settings,
        queues=job_queues,
    )
    return JobAccepted(job_id=row.id, status=row.status)


def kb_route_handlers() -> list[object]:
    return [KnowledgeBaseController, start_enrich_job]
