"""HTTP face of versioned budgets: versions, positions and position edits (each edit = a new version).

`{position_id}` in PATCH/DELETE is a position's `lineage_id` or its id in ANY version of the project:
either addresses that lineage's position in the latest version (removed since: 404; replaced: 409).
Send `If-Match: <version>` (e.g. `"7"`) to refuse the edit with 412 when the budget has moved on; list
responses carry `ETag: "<version>"`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.changes import ChangeSet, NewPosition
from app.domain.budgets.deps import budget_dependencies
from app.domain.budgets.schemas import (
    PositionChangeResult,
    PositionCreate,
    PositionRead,
    PositionUpdate,
    VersionDetail,
    VersionSummary,
)
from app.domain.budgets.services import BudgetService, NewVersion, PositionService, announce_position
from app.domain.filestore.api import position_reads, project_from_files, reads_files, refuse_writes_in_files_only
from app.domain.projects.services import get_project_state, project_not_found
from app.lib.errors import InvalidInput, NotFound, field_error
from app.lib.events import EventPublisher
from app.lib.input_bounds import OptionalVersionNumberParameter, VersionNumberParameter
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


def version_not_found() -> NotFound:
    return NotFound("The budget version does not exist.")


def _etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


async def _position_after(positions_service: PositionService, result: NewVersion, reference: uuid.UUID) -> PositionRead:
    lineage_id = result.lineages.get(reference, reference)
    position = await positions_service.in_version(result.version.id, lineage_id)
    if position is None:
        raise NotFound("The position does not exist.")
    return PositionRead.from_model(position)


async def _announce_position(
    events: EventPublisher, result: NewVersion, action: str, lineage_id: uuid.UUID, position_id: uuid.UUID | None
) -> None:
    await announce_position(events, result.project.id, result.version.version, action, lineage_id, position_id)


async def _positions_from_files(
    settings: Settings, actor: SessionUser, project_id: uuid.UUID, limit_offset: LimitOffset, version: int | None
) -> Response[Page[PositionRead]]:
    """MIGRATION_READ_FROM=files: the store's positions are the current version (no history there)."""
    project = await project_from_files(settings, actor, project_id)
    if project is None:
        raise project_not_found()
    current = 1 if project.positions else 0
    if version is not None and version != current:
        raise version_not_found()
    positions = position_reads(settings, project)
    start, end = limit_offset.offset, limit_offset.offset + limit_offset.limit
    page = Page(items=positions[start:end], total=len(positions), limit=limit_offset.limit, offset=limit_offset.offset)
    return Response(page, headers=_etag(current))


class BudgetController(Controller):
    path = "/api/projects/{project_id:uuid}"
    tags = ["budgets"]
    dependencies = budget_dependencies()
    guards = [refuse_writes_in_files_only]

    @get("/versions")
    async def list_versions(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        limit_offset: NamedDependency[LimitOffset],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> Page[VersionSummary]:
        """Budget versions, newest first, with trigger, totals and delta_cost."""
        await get_project_state(
            budgets_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        return await budgets_service.list_versions(project_id, limit_offset)

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

    @get("/positions")
    async def list_positions(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        positions_service: NamedDependency[PositionService],
        filters: Filters,
        limit_offset: NamedDependency[LimitOffset],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        version: OptionalVersionNumberParameter = None,
    ) -> Response[Page[PositionRead]]:
        """Positions of the latest version (or `version=n`); filters `status`, `category`, `code`, `q`."""
        if reads_files(settings):
            return await _positions_from_files(settings, current_user, project_id, limit_offset, version)
        state = await get_project_state(
            budgets_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        number = version if version is not None else state.current_version
        if number == 0:
            empty: Page[PositionRead] = Page(items=[], total=0, limit=limit_offset.limit, offset=limit_offset.offset)
            return Response(empty, headers=_etag(0))
        budget_version = await budgets_service.version_by_number(project_id, number)
        if budget_version is None:
            raise version_not_found()
        page = await positions_service.list_in_version(budget_version.id, list(filters), limit_offset)
        return Response(page, headers=_etag(number))

    @post("/positions", status_code=HTTP_201_CREATED)
    async def add_position(
        self,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[PositionCreate],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        positions_service: NamedDependency[PositionService],
        redis: NamedDependency[Redis],
        events: NamedDependency[EventPublisher],
        settings: NamedDependency[Settings],
        if_match: IfMatch = None,
    ) -> Response[PositionChangeResult]:
        """Add a position → a new version (trigger `user_edit`)."""
        new = NewPosition(**msgspec.structs.asdict(data), source="manual")
        result = await budgets_service.create_version(
            project_id,
            "user_edit",
            {"action": "add_position"},
            changes=ChangeSet(added=[new]),
            user_id=current_user.id,
            actor=current_user,
            expected_version=parse_if_match(if_match),
            redis=redis,
            events=events,
            settings=settings,
        )
        (lineage_id,) = result.position_ids
        position = await _position_after(positions_service, result, lineage_id)
        await _announce_position(events, result, "added", position.lineage_id, position.id)
        body = PositionChangeResult(position=position, version=VersionSummary.from_model(result.version))
        return Response(body, status_code=HTTP_201_CREATED, headers=_etag(result.version.version))

    @patch("/positions/{position_id:uuid}")
    async def update_position(
        self,
        project_id: FromPath[uuid.UUID],
        position_id: FromPath[uuid.UUID],
        data: JSONBody[PositionUpdate],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        positions_service: NamedDependency[PositionService],
        redis: NamedDependency[Redis],
        events: NamedDependency[EventPublisher],
        settings: NamedDependency[Settings],
        if_match: IfMatch = None,
    ) -> Response[PositionChangeResult]:
        """Change a position → a new version; `If-Match: <version>` refuses a stale edit with 412."""
        changed = data.changed_fields()
        if not changed:
            raise InvalidInput("Send at least one field to change.", errors=[field_error("body", "is empty")])
        result = await budgets_service.create_version(
            project_id,
            "user_edit",
            {"action": "update_position", "position_id": str(position_id), "fields": sorted(changed)},
            changes=ChangeSet(modified={position_id: changed}),
            user_id=current_user.id,
            actor=current_user,
            expected_version=parse_if_match(if_match),
            redis=redis,
            events=events,
            settings=settings,
        )
        position = await _position_after(positions_service, result, position_id)
        await _announce_position(events, result, "modified", position.lineage_id, position.id)
        body = PositionChangeResult(position=position, version=VersionSummary.from_model(result.version))
        return Response(body, headers=_etag(result.version.version))

    @delete("/positions/{position_id:uuid}", status_code=HTTP_200_OK)
    async def delete_position(
        self,
        project_id: FromPath[uuid.UUID],
        position_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        budgets_service: NamedDependency[BudgetService],
        redis: NamedDependency[Redis],
        events: NamedDependency[EventPublisher],
        settings: NamedDependency[Settings],
        if_match: IfMatch = None,
    ) -> Response[PositionChangeResult]:
        """Remove a position → a new version without it (earlier versions keep it)."""
        result = await budgets_service.create_version(
            project_id,
            "user_edit",
            {"action": "delete_position", "position_id": str(position_id)},
            changes=ChangeSet(removed=[position_id]),
            user_id=current_user.id,
            actor=current_user,
            expected_version=parse_if_match(if_match),
            redis=redis,
            events=events,
            settings=settings,
        )
        await _announce_position(events, result, "removed", result.lineages.get(position_id, position_id), None)
        body = PositionChangeResult(position=None, version=VersionSummary.from_model(result.version))
        return Response(body, headers=_etag(result.version.version))
