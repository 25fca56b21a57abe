"""Where the API reads a budget's positions from: a source the app is assembled with, PostgreSQL by default.

``position_reads: PositionReads`` in a handler. A plug-in may provide another source (under
``position_reads`` in ``READ_SOURCES``, see app.domain.projects.reads: the old file store during a
rollback). A source honours every list filter (`status`, `category`, `code`, `q`, `version`) or refuses it with 400.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any, Protocol, runtime_checkable

import msgspec
from advanced_alchemy.filters import LimitOffset, StatementFilter
from litestar import Request
from litestar.types import Scope
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.config import Settings
from app.db.models import BudgetVersion, Position
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.queries import BUDGET_ORDER, in_version
from app.domain.budgets.schemas import PositionRead, VersionSummary
from app.domain.budgets.services import BudgetService, PositionService, version_not_found
from app.domain.projects.cache import may_see, project_positions_key, project_state_key
from app.domain.projects.reads import read_source
from app.domain.projects.services import get_project_state, visible_state_bytes
from app.lib import cache
from app.lib.near_answer import Held, held_body
from app.lib.near_cache import NEAR_CACHE_STATE, NearCache
from app.lib.pagination import DEFAULT_LIMIT, Page
from app.lib.redis import run_script


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
        # A page of another version (stored by a read that overlapped an edit) is replaced.
        entry = await cache.get_or_load_entry(
            self.redis,
            project_positions_key(project_id),
            load_entry,
            ttl_seconds=self.ttl_seconds,
            family="position_page",
            field=f"latest:{limit_offset.limit}:{limit_offset.offset}",
            fits=partial(_shows_version, number),
        )
        if entry is None:
            return await load(), number
        return entry.body, number


# The cache field of the default page (no query string: the latest version, `limit` 50, `offset` 0).
DEFAULT_PAGE_FIELD = f"latest:{DEFAULT_LIMIT}:0"
# The versions list's pages live in the same hash: every new version is a write to the project (its
# row lock records ProjectChanged), which drops them with the positions' pages.
_VERSIONS_FIELD_PREFIX = "versions:"


def versions_field(limit_offset: LimitOffset) -> str:
    return f"{_VERSIONS_FIELD_PREFIX}{limit_offset.limit}:{limit_offset.offset}"


DEFAULT_VERSIONS_FIELD = versions_field(LimitOffset(DEFAULT_LIMIT, 0))

# KEYS: the project's state entry, its generation, the positions' page hash, its generation.
# ARGV: the page's field. Reply: generation and stored entry of each.
_STATE_AND_PAGE_SCRIPT = (
    cache.READ_ENTRY_LUA
    + """
local state_generation, state = cache_read(KEYS[1], KEYS[2], '')
local page_generation, page = cache_read(KEYS[3], KEYS[4], ARGV[1])
return {state_generation, state, page_generation, page}
"""
)


def _shows_version(number: int, page: cache.CachedBytes) -> bool:
    """Whether a cached page is tagged with version `number` (its tag is the version it was loaded for)."""
    return page.tag == str(number)


class _StateVersion(msgspec.Struct):
    """The one field of a cached project state that the budget view needs."""

    current_version: int


_decode_state_version = msgspec.json.Decoder(_StateVersion).decode


def _visible_page(state: cache.CachedBytes, page: cache.CachedBytes, actor: SessionUser) -> tuple[bytes, int] | None:
    """The page and the version it shows, if the actor may see the project and the page shows its
    current version (else the full path answers: a 404, an empty budget, a page of an older version)."""
    if not may_see(state.tag, actor):
        return None
    number = _decode_state_version(state.body).current_version
    if number == 0 or not _shows_version(number, page):
        return None
    return page.body, number


def _family(field: str) -> str:
    return "version_page" if field.startswith(_VERSIONS_FIELD_PREFIX) else "position_page"


def _count_hit(field: str) -> None:
    cache.count("project_state", hit=True)
    cache.count(_family(field), hit=True)


def _etag_header(number: int) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"etag", f'"{number}"'.encode()),)


def held_default_page(scope: Scope, field: str) -> Held | None:
    """For `answered_from_process`: the page (`field`) of the request's project as this process holds
    it, if it also holds the project's state, the user may see the project and the page shows its
    current version."""
    near: NearCache | None = scope["litestar_app"].state.get(NEAR_CACHE_STATE)
    if near is None:
        return None
    project_id = scope["path_params"]["project_id"]
    held_state = near.get(project_state_key(project_id))
    held_page = near.get(project_positions_key(project_id), field)
    if held_state is None or held_page is None or _visible_page(held_state[1], held_page[1], scope["user"]) is None:
        return None
    _count_hit(field)
    held: Held = held_page[2]
    return held


# Loads the JSON of a page of the version with this number (on a miss of `cached_default_page`).
PageLoader = Callable[[int], Awaitable[bytes]]


async def cached_default_page(
    redis: Redis,
    near: NearCache | None,
    actor: SessionUser,
    project_id: uuid.UUID,
    field: str = DEFAULT_PAGE_FIELD,
    *,
    load: PageLoader | None = None,
    ttl_seconds: int = 0,
) -> tuple[bytes, int] | None:
    """The JSON of a page of a project's budget (`field` of its pages' hash: by default the first page
    of positions; ``DEFAULT_VERSIONS_FIELD``: the versions list) and the version number, when the
    project's state is cached and says the actor may see it; None otherwise (the caller answers
    through the full path: a 404, an uncached state). One Redis call, whose entries the near-cache
    keeps (dropped by the writers' notices, see app.lib.near_cache): what the process holds was
    already answered by the route's `held_default_page` middleware, which runs first. A missing page
    is loaded by `load` and stored under the generation read before (None: left to the full path)."""
    state_key, pages_key = project_state_key(project_id), project_positions_key(project_id)
    if not await cache.usable(redis):
        return None
    mark = near.mark() if near is not None else 0
    keys = [state_key, cache.generation_key(state_key), pages_key, cache.generation_key(pages_key)]
    try:
        reply = await run_script(redis, _STATE_AND_PAGE_SCRIPT, keys, [field])
    except RedisError:
        return None  # the full path answers from PostgreSQL
    state_read, page_read = cache.cache_read_of(reply[0:2]), cache.cache_read_of(reply[2:4])
    state, page = cache.current_entry(state_read), cache.current_entry(page_read)
    if state is None or not may_see(state.tag, actor):
        return None
    number = _decode_state_version(state.body).current_version
    if number == 0:  # no budget yet: the full path answers the empty page
        return None
    if page is not None and _shows_version(number, page):
        if near is not None:
            near.put(state_key, (state_read, state), mark)  # the request gate's form of a state
            # With the body as `held_default_page` sends it (gzipped once, its ETag).
            held = held_body(page.body, _etag_header(number) if _family(field) == "position_page" else ())
            near.put(pages_key, (page_read, page, held), mark, field=field)
        _count_hit(field)
        return page.body, number
    if load is None:
        return None
    cache.count("project_state", hit=True)
    cache.count(_family(field), hit=False)
    body = await load(number)
    entry = cache.CachedBytes(str(number), body)
    await cache.store(redis, [cache.Fill(pages_key, page_read.generation, entry, field)], ttl_seconds=ttl_seconds)
    return body, number


@asynccontextmanager
async def _read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for one read statement: autocommit, so no BEGIN/ROLLBACK round trips around it."""
    async with engine.connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


# A position as the list shows it, read as plain columns (PositionRead's fields are the model's
# attribute names) and the id of the version it is listed in.
_POSITION_FIELDS = tuple(name for name in PositionRead.__struct_fields__ if name != "version_id")
_POSITION_COLUMNS = tuple(getattr(Position, name) for name in _POSITION_FIELDS)


# The version the statements below read: its project and number as bound parameters (for `in_version`).
_BOUND_VERSION = SimpleNamespace(project_id=bindparam("project_id"), version=bindparam("number"))


# Built once (building a statement cost more than running it): bound per request.
_LATEST_POSITIONS = (
    select(
        *_POSITION_COLUMNS,
        select(BudgetVersion.id)
        .where(BudgetVersion.project_id == bindparam("project_id"), BudgetVersion.version == bindparam("number"))
        .scalar_subquery(),
        func.count().over(),
    )
    .where(in_version(_BOUND_VERSION))
    .order_by(*BUDGET_ORDER)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_COUNT_POSITIONS = select(func.count()).where(in_version(_BOUND_VERSION))


async def latest_positions_json(
    connection: AsyncConnection, project_id: uuid.UUID, number: int, limit_offset: LimitOffset
) -> bytes:
    """The JSON of a page of the positions of version `number`, unfiltered, in budget order: one
    query of plain rows (no ORM objects), encoded once."""
    values = {"project_id": project_id, "number": number, "limit": limit_offset.limit, "offset": limit_offset.offset}
    rows = (await connection.execute(_LATEST_POSITIONS, values)).all()
    if rows:
        total = int(rows[0][-1])
    elif limit_offset.offset:
        total = int(await connection.scalar(_COUNT_POSITIONS, {"project_id": project_id, "number": number}) or 0)
    else:
        total = 0
    items = [PositionRead(**dict(zip(_POSITION_FIELDS, row[:-2], strict=True)), version_id=row[-2]) for row in rows]
    return _encode(Page(items=items, total=total, limit=limit_offset.limit, offset=limit_offset.offset))


_DEFAULT_PAGE = LimitOffset(DEFAULT_LIMIT, 0)


def default_positions_loader(engine: AsyncEngine, project_id: uuid.UUID) -> PageLoader:
    """Loads the default page of the positions of a version (see `cached_default_page`)."""

    async def load(number: int) -> bytes:
        async with _read_connection(engine) as connection:
            return await latest_positions_json(connection, project_id, number, _DEFAULT_PAGE)

    return load


def default_versions_loader(engine: AsyncEngine, project_id: uuid.UUID) -> PageLoader:
    """Loads the first page of the versions list (see `cached_default_page`)."""

    async def load(number: int) -> bytes:
        async with _read_connection(engine) as connection:
            return await version_page_json(connection, project_id, _DEFAULT_PAGE)

    return load


# What a versions list shows: not the diff nor the summary (an import's `changes` lists every
# position, 300 kB of JSON for 2,000 positions). Column keys are VersionSummary's field names.
_VERSION_COLUMNS = tuple(getattr(BudgetVersion, name) for name in VersionSummary.__struct_fields__)


_VERSIONS_PAGE = (
    select(*_VERSION_COLUMNS, func.count().over())
    .where(BudgetVersion.project_id == bindparam("project_id"))
    .order_by(BudgetVersion.version.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_COUNT_VERSIONS = (
    select(func.count()).select_from(BudgetVersion).where(BudgetVersion.project_id == bindparam("project_id"))
)


async def version_page_json(
    session: AsyncSession | AsyncConnection, project_id: uuid.UUID, limit_offset: LimitOffset
) -> bytes:
    """The JSON of a page of the project's budget versions, newest first: one query of plain rows
    (no ORM objects), encoded once (a second query only for a page past the end, for the total)."""
    values = {"project_id": project_id, "limit": limit_offset.limit, "offset": limit_offset.offset}
    rows = (await session.execute(_VERSIONS_PAGE, values)).all()
    counted = rows[0][-1] if rows else await session.scalar(_COUNT_VERSIONS, {"project_id": project_id})
    total = int(counted or 0)
    names = VersionSummary.__struct_fields__
    items = [VersionSummary(**dict(zip(names, row[:-1], strict=True))) for row in rows]
    return _encode(Page(items=items, total=total, limit=limit_offset.limit, offset=limit_offset.offset))


async def version_page(
    redis: Redis,
    near: NearCache | None,
    actor: SessionUser,
    project_id: uuid.UUID,
    limit_offset: LimitOffset,
    *,
    ttl_seconds: int,
    new_session: Callable[[], AbstractAsyncContextManager[AsyncSession]],
) -> bytes:
    """The JSON of a page of the project's budget versions; 404 if the actor may not see the project.
    Pages up to ``CACHED_PAGE_LIMIT`` are cached with the positions' pages (tagged with the version
    they show); a database session is opened only to load one."""
    state = await visible_state_bytes(redis, near, actor, project_id, ttl_seconds=ttl_seconds, new_session=new_session)
    number = _decode_state_version(state).current_version

    async def load() -> bytes:
        async with new_session() as session:
            return await version_page_json(session, project_id, limit_offset)

    if limit_offset.limit > CACHED_PAGE_LIMIT:
        return await load()

    async def load_entry() -> cache.CachedBytes:
        return cache.CachedBytes(str(number), await load())

    entry = await cache.get_or_load_entry(
        redis,
        project_positions_key(project_id),
        load_entry,
        ttl_seconds=ttl_seconds,
        family="version_page",
        field=versions_field(limit_offset),
        fits=partial(_shows_version, number),
    )
    return entry.body if entry is not None else await load()


def provide_position_reads(
    request: Request[Any, Any, Any], db_session: AsyncSession, redis: Redis, settings: Settings
) -> PositionReads:
    found: PositionReads | None = read_source(request, "position_reads")
    return found if found is not None else DatabasePositionReads(db_session, redis, settings.CACHE_TTL_SECONDS)
