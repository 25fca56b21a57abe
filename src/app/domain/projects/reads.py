"""Where the API reads projects from: a source that dependency injection provides.

``project_reads: ProjectReads`` in a handler. The default answers from PostgreSQL (through the cache);
a plug-in may provide another source under the same name (the old file store during a rollback).
A source honours every list filter or refuses it with 400; it never drops one silently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from advanced_alchemy.filters import LimitOffset, StatementFilter
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.schemas import ProjectRead
from app.domain.projects.services import ProjectPage, ProjectService, get_project_state


@runtime_checkable
class ProjectReads(Protocol):
    async def page(self, actor: SessionUser, filters: list[StatementFilter], limit_offset: LimitOffset) -> ProjectPage:
        """The actor's projects (administrators: all), newest first."""
        ...

    async def one(self, actor: SessionUser, project_id: uuid.UUID) -> ProjectRead:
        """One project the actor may see; 404 otherwise."""
        ...


@dataclass(frozen=True)
class DatabaseProjectReads:
    session: AsyncSession
    redis: Redis
    ttl_seconds: int

    async def page(self, actor: SessionUser, filters: list[StatementFilter], limit_offset: LimitOffset) -> ProjectPage:
        service = ProjectService(session=self.session)
        return await service.list_for(actor, filters, limit_offset, redis=self.redis, ttl_seconds=self.ttl_seconds)

    async def one(self, actor: SessionUser, project_id: uuid.UUID) -> ProjectRead:
        return await get_project_state(self.session, self.redis, actor, project_id, ttl_seconds=self.ttl_seconds)


def provide_project_reads(db_session: AsyncSession, redis: Redis, settings: Settings) -> ProjectReads:
    return DatabaseProjectReads(db_session, redis, settings.CACHE_TTL_SECONDS)
