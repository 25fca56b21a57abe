"""HTTP face of versioned budgets: versions, positions and position edits (each edit = a new version).

`{position_id}` in PATCH/DELETE is a position's `lineage_id` or its id in ANY version of the project:
either addresses that lineage's position in the latest version (removed since: 404; replaced: 409).
Send `If-Match: <version>` (e.g. `"7"`) to refuse the edit with 412 when the budget has moved on; list
responses carry `ETag: "<version>"`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, cast

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from litestar.types import Scope
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.domain.accounts.guards import current_session_user
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.changes import ChangeSet, NewPosition
from app.domain.budgets.deps import budget_dependencies
from app.domain.budgets.reads import (
    DEFAULT_PAGE_FIELD,
    DEFAULT_VERSIONS_FIELD,
    PageLoader,
    PositionQuery,
    PositionReads,
    cached_default_page,
    default_positions_loader,
    default_versions_loader,
    held_default_page,
    version_page,
)
from app.domain.budgets.schemas import (
    PositionChangeResult,
    PositionCreate,
    PositionRead,
    PositionUpdate,
    VersionDetail,
    VersionSummary,
)
from app.domain.budgets.services import BudgetService, version_not_found
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.domain.projects.reads import has_read_source
from app.domain.projects.services import get_project_state
from app.lib.db import app_alchemy_config
from app.lib.errors import InvalidInput, field_error
from app.lib.input_bounds import OptionalVersionNumberParameter, VersionNumberParameter
from app.lib.near_answer import Held, answered_from_process
from app.lib.near_cache import NEAR_CACHE_STATE
from app.lib.pagination import Filters, Page

IfMatch = Annotated[str | None, HeaderParameter(name="If-Match")]


def parse_if_match(value: str | None) -> int | None:
    """`7`, `"7"` or `W/"7"` → 7; `*` or no header → None (no precondition)."""
    if value is None or value.strip() in ("", "*"):
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise InvalidInput(
            "If-Match must be a budget version number.", errors=[field_error("If-Match", 'must look like "7"')]
        )
    return int(text)


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


async def cached_first_page(
    request: Request[Any, Any, Any], field: str, loader: Callable[[AsyncEngine, uuid.UUID], PageLoader]
) -> tuple[bytes, int] | None:
    """For the list hooks below: the JSON of the project's page `field` and its version number when no
    query string asks for another page, from the cache or on a miss one query (`loader`) on a
    connection of its own; None lets the handler answer (a query, a project whose state is not cached
    or that the user may not see)."""
    if request.scope["query_string"]:
        return None
    state = request.app.state
    project_id = request.path_params["project_id"]
    return await cached_default_page(
        state.redis,
        state.get(NEAR_CACHE_STATE),
        current_session_user(request),
        project_id,
        field,
        load=loader(app_alchemy_config(request.app).get_engine(), project_id),
        ttl_seconds=state.settings.CACHE_TTL_SECONDS,
    )


async def answer_cached_positions(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """`before_request` of the positions list: the default page answered before any dependency is
    resolved (no session, no filter providers), with the version as its ETag; None lets the handler
    answer (see `cached_first_page`; also when a plug-in is the read source)."""
    if has_read_source(request.app, "position_reads"):
        return None
    found = await cached_first_page(request, DEFAULT_PAGE_FIELD, default_positions_loader)
    if found is None:
        return None
    body, number = found
    return Response(body, media_type=MediaType.JSON, headers=_etag(number))


async def answer_cached_versions(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """`before_request` of the versions list: its first page answered before any dependency is
    resolved; None lets the handler answer (see `cached_first_page`)."""
    found = await cached_first_page(request, DEFAULT_VERSIONS_FIELD, default_versions_loader)
    return Response(found[0], media_type=MediaType.JSON) if found is not None else None


def held_positions_page(scope: Scope) -> Held | None:
    """The default positions page as this process holds it (unless a plug-in is the read source)."""
    if has_read_source(scope["litestar_app"], "position_reads"):
        return None
    return held_default_page(scope, DEFAULT_PAGE_FIELD)


class BudgetController(Controller):
    path = "/api/projects/{project_id:uuid}"
    tags = ["budgets"]
    dependencies = budget_dependencies()
    opt = {WRITES_PROJECT_DATA: True}

    @get(
        "/versions",
        before_request=answer_cached_versions,
        middleware=[answered_from_process(partial(held_default_page, field=DEFAULT_VERSIONS_FIELD))],
    )
    async def list_versions(
        self,
        project_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        limit_offset: NamedDependency[LimitOffset],
    ) -> Response[Page[VersionSummary]]:
        """Budget versions, newest first, with trigger, totals and delta_cost."""
        # No service dependencies (each costs a task): a session is opened only to load a page.
        state = request.app.state
        settings: Settings = state.settings
        body = await version_page(
            state.redis,
            state.get(NEAR_CACHE_STATE),
            current_session_user(request),
            project_id,
            limit_offset,
            ttl_seconds=settings.CACHE_TTL_SECONDS,
            new_session=app_alchemy_config(request.app).get_session,
        )
        return cast("Response[Page[VersionSummary]]", Response(body, media_type=MediaType.JSON))

    @get("/versions/{number:int}")
    async def get_version(
        self,
        project_id: FromPath[uuid.UUID],
        number: VersionNumberParameter,
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> VersionDetail:
        """One version with `changes: {added, removed, modified}` (modified: each field's before/after)."""
        await get_project_state(
            budgets_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        version = await budgets_service.version_by_number(project_id, number)
        if version is None:
            raise version_not_found()
        return VersionDetail.from_model(version)

    @get(
        "/positions",
        before_request=answer_cached_positions,
        middleware=[answered_from_process(held_positions_page)],
    )
    async def list_positions(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        position_reads: NamedDependency[PositionReads],
        filters: Filters,
        limit_offset: NamedDependency[LimitOffset],
        version: OptionalVersionNumberParameter = None,
    ) -> Response[Page[PositionRead]]:
        """Positions of the latest version (or `version=n`); filters `status`, `category`, `code`, `q`."""
        query = PositionQuery(project_id, list(filters), limit_offset, version)
        page, number = await position_reads.page(current_user, query)
        if isinstance(page, bytes):  # the cached JSON as stored
            return cast(
                "Response[Page[PositionRead]]", Response(page, media_type=MediaType.JSON, headers=_etag(number))
            )
        return Response(page, headers=_etag(number))

    @post("/positions", status_code=HTTP_201_CREATED)
    async def add_position(
        self,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[PositionCreate],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        redis: NamedDependency[Redis],
        if_match: IfMatch = None,
    ) -> Response[PositionChangeResult]:
        """Add a position → a new version (trigger `user_edit`)."""
        new = NewPosition(**msgspec.structs.asdict(data), source="manual")
        result = await budgets_service.edit_positions(
            current_user,
            project_id,
            "added",
            ChangeSet(added=[new]),
            {},
            expected_version=parse_if_match(if_match),
            redis=redis,
        )
        return Response(result, status_code=HTTP_201_CREATED, headers=_etag(result.version.version))

    @patch("/positions/{position_id:uuid}")
    async def update_position(
        self,
        project_id: FromPath[uuid.UUID],
        position_id: FromPath[uuid.UUID],
        data: JSONBody[PositionUpdate],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        redis: NamedDependency[Redis],
        if_match: IfMatch = None,
    ) -> Response[PositionChangeResult]:
        """Change a position → a new version; `If-Match: <version>` refuses a stale edit with 412."""
        changed = data.changed_fields()
        if not changed:
            raise InvalidInput("Send at least one field to change.", errors=[field_error("body", "is empty")])
        result = await budgets_service.edit_positions(
            current_user,
            project_id,
            "modified",
            ChangeSet(modified={position_id: changed}),
            {"position_id": str(position_id), "fields": sorted(changed)},
            expected_version=parse_if_match(if_match),
            redis=redis,
        )
        return Response(result, headers=_etag(result.version.version))

    @delete("/positions/{position_id:uuid}", status_code=HTTP_200_OK)
    async def delete_position(
        self,
        project_id: FromPath[uuid.UUID],
        position_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        redis: NamedDependency[Redis],
        if_match: IfMatch = None,
    ) -> Response[PositionChangeResult]:
        """Remove a position → a new version without it (earlier versions keep it)."""
        result = await budgets_service.edit_positions(
            current_user,
            project_id,
            "removed",
            ChangeSet(removed=[position_id]),
            {"position_id": str(position_id)},
            expected_version=parse_if_match(if_match),
            redis=redis,
        )
        return Response(result, headers=_etag(result.version.version))
