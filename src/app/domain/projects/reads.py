"""Where the API reads projects from: a source that dependency injection provides.

``project_reads: ProjectReads`` in a handler. The default answers from PostgreSQL (through the cache);
a plug-in may provide another source under the same name (the old file store during a rollback).
A source honours every list filter or refuses it with 400; it never drops one silently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from advanced_alchemy.filters import LimitOffset, StatementFilter
from litestar import MediaType, Request, Response
from litestar.types import Scope
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.cache import project_state_key
from app.domain.projects.schemas import ProjectRead
from app.domain.projects.services import ProjectPage, ProjectService, project_state_bytes
from app.lib import cache


@runtime_checkable
class ProjectReads(Protocol):
    async def page(self, actor: SessionUser, filters: list[StatementFilter], limit_offset: LimitOffset) -> ProjectPage:
        """The actor's projects (administrators: all), newest first."""
        ...

    async def one(self, actor: SessionUser, project_id: uuid.UUID) -> Response[ProjectRead]:
        """One project the actor may see (the answer, ready to send); 404 otherwise."""
        ...


@dataclass(frozen=True)
class DatabaseProjectReads:
    session: AsyncSession
    redis: Redis
    ttl_seconds: int
    scope: Scope

    async def page(self, actor: SessionUser, filters: list[StatementFilter], limit_offset: LimitOffset) -> ProjectPage:
        service = ProjectService(session=self.session)
        return await service.list_for(actor, filters, limit_offset, redis=self.redis, ttl_seconds=self.ttl_seconds)

    async def one(self, actor: SessionUser, project_id: uuid.UUID) -> Response[ProjectRead]:
        body = await project_state_bytes(
            self.session,
            self.redis,
            actor,
            project_id,
            ttl_seconds=self.ttl_seconds,
            read=cache.prefetched(self.scope, project_state_key(project_id)),
        )
        # The cached JSON as stored (encoded once, when the entry was filled).
        return cast("Response[ProjectRead]", Response(body, media_type=MediaType.JSON))


def provide_project_reads(
    db_session: AsyncSession, redis: Redis, settings: Settings, request: Request[Any, Any, Any]
) -> ProjectReads:
    return DatabaseProjectReads(db_session, redis, settings.CACHE_TTL_SECONDS, request.scope)
