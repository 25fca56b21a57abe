"""Where the API reads a budget's positions from: a source the app is assembled with, PostgreSQL by default.

``position_reads: PositionReads`` in a handler. A plug-in may provide another source (under
``position_reads`` in ``READ_SOURCES``, see app.domain.projects.reads: the old file store during a
rollback). A source honours every list filter (`status`, `category`, `code`, `q`, `version`) or refuses it with 400.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec
from advanced_alchemy.filters import LimitOffset, StatementFilter
from litestar import Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.schemas import PositionRead
from app.domain.budgets.services import BudgetService, PositionService, version_not_found
from app.domain.projects.cache import project_positions_key
from app.domain.projects.reads import read_source
from app.domain.projects.services import get_project_state
from app.lib import cache
from app.lib.pagination import Page


@dataclass(frozen=True)
class PositionQuery:
    """Which positions: the project's latest version (or `version`), filtered and paged."""

    project_id: uuid.UUID
    filters: list[StatementFilter]
    limit_offset: LimitOffset
    version: int | None = None


@runtime_checkable
class PositionReads(Protocol):
    async def page(self, actor: SessionUser, query: PositionQuery) -> tuple[Page[PositionRead] | bytes, int]:
        """The positions (or their page as JSON, ready to send) and the version's number (0: no budget yet)."""
        ...


# Pages of the latest version up to this size are cached (a page of 100 positions is ~100 kB of JSON).
CACHED_PAGE_LIMIT = 100
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class DatabasePositionReads:
    session: AsyncSession
    redis: Redis
    ttl_seconds: int

    async def page(self, actor: SessionUser, query: PositionQuery) -> tuple[Page[PositionRead] | bytes, int]:
        project_id, limit_offset = query.project_id, query.limit_offset
        state = await get_project_state(self.session, self.redis, actor, project_id, ttl_seconds=self.ttl_seconds)
        number = query.version if query.version is not None else state.current_version
        if number == 0:
            return Page(items=[], total=0, limit=limit_offset.limit, offset=limit_offset.offset), 0

        async def load() -> Page[PositionRead]:
            version_id = await BudgetService(session=self.session).version_id_by_number(project_id, number)
            if version_id is None:
                raise version_not_found()
            positions = PositionService(session=self.session)
            return await positions.list_in_version(version_id, query.filters, limit_offset)

        if query.version is not None or query.filters or limit_offset.limit > CACHED_PAGE_LIMIT:
            return await load(), number

        async def load_entry() -> cache.CachedBytes:
            return cache.CachedBytes(str(number), _encode(await load()))

        # The plain budget view: cached per page, dropped by every write to the project (ProjectChanged).
        entry = await cache.get_or_load_entry(
            self.redis,
            project_positions_key(project_id),
            load_entry,
            ttl_seconds=self.ttl_seconds,
            family="position_page",
            field=f"latest:{limit_offset.limit}:{limit_offset.offset}",
        )
        if entry is None or entry.tag != str(number):  # filled for another version: answer from PostgreSQL
            return await load(), number
        return entry.body, number


def provide_position_reads(
    request: Request[Any, Any, Any], db_session: AsyncSession, redis: Redis, settings: Settings
) -> PositionReads:
    found: PositionReads | None = read_source(request, "position_reads")
    return found if found is not None else DatabasePositionReads(db_session, redis, settings.CACHE_TTL_SECONDS)
