"""Where the API reads projects from: a source the app is assembled with, PostgreSQL by default.

Handlers ask for ``project_reads: ProjectReads`` (a dependency) or, on the hot path that resolves no
dependencies, call ``project_reads_for(request)``. A plug-in provides another source by putting a
factory under ``READ_SOURCES`` in the app's state (the old file store during a rollback). A source
honours every list filter or refuses it with 400; it never drops one silently.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from advanced_alchemy.filters import LimitOffset, StatementFilter
from litestar import Litestar, MediaType, Request, Response
from litestar.types import Scope
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.cache import project_state_key
from app.domain.projects.schemas import ProjectRead
from app.domain.projects.services import ProjectPage, ProjectService, project_state_bytes
from app.lib import cache
from app.lib.db import app_alchemy_config

# app.state key: {"project_reads": (request) -> ProjectReads, "position_reads": (request) -> ...} from a plug-in.
READ_SOURCES = "read_sources"


@runtime_checkable
class ProjectReads(Protocol):
    async def page(
        self, actor: SessionUser, filters: list[StatementFilter], limit_offset: LimitOffset
    ) -> ProjectPage | bytes:
        """The actor's projects (administrators: all), newest first (or their page as JSON, ready to send)."""
        ...

    async def one(self, actor: SessionUser, project_id: uuid.UUID) -> Response[ProjectRead]:
        """One project the actor may see (the answer, ready to send); 404 otherwise."""
        ...


@dataclass(frozen=True)
class DatabaseProjectReads:
    """From PostgreSQL through the cache; a session is opened only when the cache misses."""

    redis: Redis
    ttl_seconds: int
    scope: Scope
    new_session: Callable[[], Any]
    session: AsyncSession | None = None

    async def page(
        self, actor: SessionUser, filters: list[StatementFilter], limit_offset: LimitOffset
    ) -> ProjectPage | bytes:
        async with self._session() as session:
            service = ProjectService(session=session)
            return await service.list_for(actor, filters, limit_offset, redis=self.redis, ttl_seconds=self.ttl_seconds)

    async def one(self, actor: SessionUser, project_id: uuid.UUID) -> Response[ProjectRead]:
        body = await project_state_bytes(
            self.redis,
            actor,
            project_id,
            ttl_seconds=self.ttl_seconds,
            read=cache.prefetched(self.scope, project_state_key(project_id)),
            db_session=self.session,
            new_session=self.new_session,
        )
        # The cached JSON as stored (encoded once, when the entry was filled).
        return cast("Response[ProjectRead]", Response(body, media_type=MediaType.JSON))

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        if self.session is not None:
            yield self.session
            return
        async with self.new_session() as session:
            yield session


def read_source(request: Request[Any, Any, Any], name: str) -> Any | None:
    """The plug-in's source `name` for this request, if a plug-in provides one."""
    factory = (request.app.state.get(READ_SOURCES) or {}).get(name)
    return factory(request) if factory is not None else None


def has_read_source(app: Litestar, name: str) -> bool:
    """Whether a plug-in provides the source `name` (then the cache is not the core's to answer from)."""
    return name in (app.state.get(READ_SOURCES) or {})


def project_reads_for(request: Request[Any, Any, Any], db_session: AsyncSession | None = None) -> ProjectReads:
    found: ProjectReads | None = read_source(request, "project_reads")
    if found is not None:
        return found
    settings: Settings = request.app.state.settings
    return DatabaseProjectReads(
        redis=request.app.state.redis,
        ttl_seconds=settings.CACHE_TTL_SECONDS,
        scope=request.scope,
        new_session=app_alchemy_config(request.app).get_session,
        session=db_session,
    )


def provide_project_reads(request: Request[Any, Any, Any], db_session: AsyncSession) -> ProjectReads:
    return project_reads_for(request, db_session)
