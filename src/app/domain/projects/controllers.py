"""HTTP face of the projects domain."""

from __future__ import annotations

import uuid
from typing import Any, cast

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from litestar.types import Scope

from app.config import Settings
from app.domain.accounts.guards import current_session_user
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.cache import PREFETCH_PROJECT_STATE
from app.domain.projects.deps import project_dependencies
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.domain.projects.reads import ProjectReads, has_read_source, project_reads_for
from app.domain.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate
from app.domain.projects.services import ProjectPage, ProjectService, cached_default_list, held_default_list
from app.lib.cache import CACHE_PREFETCH_OPT
from app.lib.near_answer import Held, answered_from_process, held_body
from app.lib.near_cache import NEAR_CACHE_STATE
from app.lib.pagination import Filters, aware_bounds


async def answer_cached_list(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """`before_request` of the list: the default page (no query string) answered from the cache
    before any dependency is resolved (no database session, no filter providers); None lets the
    handler answer (a query, a miss, an administrator, another read source)."""
    if request.scope["query_string"] or has_read_source(request.app, "project_reads"):
        return None
    state = request.app.state
    body = await cached_default_list(state.redis, state.get(NEAR_CACHE_STATE), current_session_user(request))
    return Response(body, media_type=MediaType.JSON) if body is not None else None


def held_list(scope: Scope) -> Held | None:
    """The default list page as this process holds it (unless a plug-in is the read source)."""
    app = scope["litestar_app"]
    near = app.state.get(NEAR_CACHE_STATE)
    if near is None or has_read_source(app, "project_reads"):
        return None
    body = held_default_list(near, scope["user"])
    return held_body(body) if body is not None else None


class ProjectController(Controller):
    path = "/api/projects"
    tags = ["projects"]
    dependencies = project_dependencies()
    opt = {WRITES_PROJECT_DATA: True}

    @get(before_request=answer_cached_list, middleware=[answered_from_process(held_list)])
    async def list_projects(
        self,
        current_user: NamedDependency[SessionUser],
        project_reads: NamedDependency[ProjectReads],
        filters: Filters,
        limit_offset: NamedDependency[LimitOffset],
    ) -> Response[ProjectPage]:
        """Own projects (administrators: all), newest first; filters `status`, `workflow`, `q`,
        `created_after`, `created_before`; `limit`, `offset`."""
        page = await project_reads.page(current_user, aware_bounds(filters), limit_offset)
        if isinstance(page, bytes):  # the items are the projects' cached JSON as stored
            return cast("Response[ProjectPage]", Response(page, media_type=MediaType.JSON))
        return Response(page)

    @post(status_code=HTTP_201_CREATED)
    async def create_project(
        self,
        data: JSONBody[ProjectCreate],
        current_user: NamedDependency[SessionUser],
        projects_service: NamedDependency[ProjectService],
    ) -> ProjectRead:
        project = await projects_service.create_for(current_user, data)
        return ProjectRead.from_model(project)

    @get("/{project_id:uuid}", opt={CACHE_PREFETCH_OPT: PREFETCH_PROJECT_STATE})
    async def get_project(
        self, project_id: FromPath[uuid.UUID], request: Request[Any, Any, Any]
    ) -> Response[ProjectRead]:
        """The project with the aggregates of its latest budget version (served from the cache)."""
        # The hot path: no dependencies to resolve (each costs a task), no database session unless
        # the cache misses; the request gate already read the entry with the session.
        return await project_reads_for(request).one(current_session_user(request), project_id)

    @patch("/{project_id:uuid}")
    async def update_project(
        self,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ProjectUpdate],
        current_user: NamedDependency[SessionUser],
        projects_service: NamedDependency[ProjectService],
    ) -> ProjectRead:
        """Change any of name, description, status, metadata (the migration's keys are kept)."""
        project = await projects_service.update_for(current_user, project_id, data)
        return ProjectRead.from_model(project)

    @delete("/{project_id:uuid}", status_code=HTTP_204_NO_CONTENT)
    async def delete_project(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        projects_service: NamedDependency[ProjectService],
        settings: NamedDependency[Settings],
    ) -> None:
        """Delete the project with its documents, versions, chat and files."""
        await projects_service.delete_for(current_user, project_id, settings=settings)
