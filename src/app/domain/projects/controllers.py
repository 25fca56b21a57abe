"""HTTP face of the projects domain."""

from __future__ import annotations

import uuid
from typing import Any, cast

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts.guards import current_session_user
from app.domain.accounts.sessions import SessionUser
from app.domain.filestore.api import (
    project_from_files,
    project_page_from_files,
    project_read,
    reads_files,
    refuse_writes_in_files_only,
)
from app.domain.projects.cache import PREFETCH_PROJECT_STATE, project_state_key
from app.domain.projects.deps import project_dependencies
from app.domain.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate
from app.domain.projects.services import ProjectPage, ProjectService, project_not_found, project_state_bytes
from app.lib import cache
from app.lib.cache import CACHE_PREFETCH_OPT
from app.lib.db import app_alchemy_config
from app.lib.pagination import Filters


class ProjectController(Controller):
    path = "/api/projects"
    tags = ["projects"]
    dependencies = project_dependencies()
    guards = [refuse_writes_in_files_only]

    @get()
    async def list_projects(
        self,
        current_user: NamedDependency[SessionUser],
        projects_service: NamedDependency[ProjectService],
        filters: Filters,
        limit_offset: NamedDependency[LimitOffset],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> ProjectPage:
        """Own projects (administrators: all), newest first; filters `status`, `workflow`, `q`,
        `created_after`, `created_before`; `limit`, `offset`."""
        if reads_files(settings):
            return await project_page_from_files(
                settings, current_user, limit=limit_offset.limit, offset=limit_offset.offset
            )
        return await projects_service.list_for(
            current_user, list(filters), limit_offset, redis=redis, ttl_seconds=settings.CACHE_TTL_SECONDS
        )

    @post(status_code=HTTP_201_CREATED)
    async def create_project(
        self,
        data: JSONBody[ProjectCreate],
        current_user: NamedDependency[SessionUser],
        projects_service: NamedDependency[ProjectService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> ProjectRead:
        project = await projects_service.create_for(current_user, data, redis=redis, settings=settings)
        return ProjectRead.from_model(project)

    @get("/{project_id:uuid}", opt={CACHE_PREFETCH_OPT: PREFETCH_PROJECT_STATE})
    async def get_project(
        self, project_id: FromPath[uuid.UUID], request: Request[Any, Any, Any]
    ) -> Response[ProjectRead]:
        """The project with the aggregates of its latest budget version (served from the cache)."""
        # The hot path: no dependencies to resolve (each costs a task), no database session unless
        # the cache misses; the request gate already read the entry with the session.
        settings: Settings = request.app.state.settings
        current_user = current_session_user(request)
        if reads_files(settings):
            found = await project_from_files(settings, current_user, project_id)
            if found is None:
                raise project_not_found()
            return Response(project_read(settings, found))
        body = await project_state_bytes(
            request.app.state.redis,
            current_user,
            project_id,
            ttl_seconds=settings.CACHE_TTL_SECONDS,
            read=cache.prefetched(request.scope, project_state_key(project_id)),
            new_session=app_alchemy_config(request.app).get_session,
        )
        # The cached JSON as stored (encoded once, when the entry was filled).
        return cast("Response[ProjectRead]", Response(body, media_type=MediaType.JSON))

    @patch("/{project_id:uuid}")
    async def update_project(
        self,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ProjectUpdate],
        current_user: NamedDependency[SessionUser],
        projects_service: NamedDependency[ProjectService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> ProjectRead:
        """Change any of name, description, status, metadata (the migration's keys are kept)."""
        project = await projects_service.update_for(current_user, project_id, data, redis=redis, settings=settings)
        return ProjectRead.from_model(project)

    @delete("/{project_id:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def delete_project(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        projects_service: NamedDependency[ProjectService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> None:
        """Delete the project with its documents, versions, chat and files."""
        await projects_service.delete_for(current_user, project_id, redis=redis, settings=settings)
