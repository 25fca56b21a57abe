"""Project rules: who sees what, the per-project write lock, cached reads, deletion with its files.

PUBLIC for other domains:
    await lock_project(db_session, actor, project_id) -> Project       # SELECT ... FOR UPDATE, 404 if not visible
    await get_project_state(db_session, redis, actor, project_id, ttl_seconds=...) -> ProjectRead   # cached

Every write takes the row lock, which records ``ProjectChanged`` with the transaction: after its
commit the cache is dropped and the listeners follow (app.domain.projects.changes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import msgspec
import structlog
from advanced_alchemy.filters import BeforeAfter, LimitOffset, StatementFilter
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Project, utc_now
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.cache import (
    ListPage,
    list_page_entry,
    list_page_of,
    may_see,
    project_state_entry,
    project_state_key,
    read_list_page,
    read_project_states,
    user_projects_key,
)
from app.domain.projects.changes import ProjectChanged, ProjectDeleted, ProjectEdited
from app.domain.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate
from app.lib import cache
from app.lib.errors import NotFound
from app.lib.near_cache import NearCache
from app.lib.pagination import DEFAULT_LIMIT, Page
from app.lib.services import RepositoryService
from app.lib.unit_of_work import record

logger = structlog.get_logger(__name__)

ProjectPage = Page[ProjectRead]
# Metadata keys an import wrote (`app migrate-files`: the old id, the old values, the fingerprint);
# a PATCH of `metadata` keeps them, a re-export and the store's directory depend on them.
KEPT_METADATA_KEYS = frozenset({"legacy_id", "legacy", "migration"})


def project_not_found() -> NotFound:
    return NotFound("The project does not exist.")


def can_see(actor: SessionUser, owner_id: uuid.UUID) -> bool:
    """Owners see their projects, administrators see all; others get 404, never 403."""
    return may_see(str(owner_id), actor)


def project_storage_dir(settings: Settings, project_id: uuid.UUID) -> Path:
    """Where a project's uploaded files live (removed with the project)."""
    return Path(settings.STORAGE_DIR).resolve() / "projects" / str(project_id)


async def lock_project(db_session: AsyncSession, actor: SessionUser | None, project_id: uuid.UUID) -> Project:
    """Lock the project row for this transaction (serialises writes per project); 404 if not visible.

    `actor=None` is for background work that acts on the owner's behalf. The lock is taken to write,
    so it records ``ProjectChanged``: acted on if the transaction commits.
    """
    # populate_existing: a Project loaded earlier in this session must show the row as locked now.
    statement = (
        select(Project).where(Project.id == project_id).with_for_update().execution_options(populate_existing=True)
    )
    if actor is not None and not actor.is_admin:
        statement = statement.where(Project.owner_id == actor.id)
    project = (await db_session.execute(statement)).scalar_one_or_none()
    if project is None:
        raise project_not_found()
    record(db_session, ProjectChanged(project.id, project.owner_id))
    return project


async def project_state_bytes(
    redis: Redis,
    actor: SessionUser,
    project_id: uuid.UUID,
    *,
    ttl_seconds: int,
    read: cache.CacheRead | None = None,
    db_session: AsyncSession | None = None,
    new_session: Callable[[], AbstractAsyncContextManager[AsyncSession]] | None = None,
) -> bytes:
    """The project as the API shows it, as JSON bytes straight from the cache when possible; 404 if
    not visible. `read` is what the request gate prefetched (see `PREFETCH_PROJECT_STATE`). A miss
    reads PostgreSQL in `db_session`, or in a session of its own from `new_session` (a cached read
    then never opens one)."""

    async def load_with(session: AsyncSession) -> cache.CachedBytes | None:
        project = await session.get(Project, project_id, populate_existing=True)
        return project_state_entry(project) if project is not None else None

    async def load() -> cache.CachedBytes | None:
        if db_session is not None:
            return await load_with(db_session)
        assert new_session is not None, "pass db_session or new_session"
        async with new_session() as session:
            return await load_with(session)

    entry = await cache.get_or_load_entry(
        redis, project_state_key(project_id), load, ttl_seconds=ttl_seconds, family="project_state", read=read
    )
    if entry is None or not may_see(entry.tag, actor):
        raise project_not_found()
    return entry.body


async def visible_state_bytes(
    redis: Redis,
    near: NearCache | None,
    actor: SessionUser,
    project_id: uuid.UUID,
    *,
    ttl_seconds: int,
    new_session: Callable[[], AbstractAsyncContextManager[AsyncSession]],
) -> bytes:
    """``project_state_bytes`` that first looks in this process's near-cache (the request gate keeps
    the states it reads there): a project's sub-resources check visibility with no Redis call."""
    held = near.get(project_state_key(project_id)) if near is not None else None
    if held is not None and may_see(held[1].tag, actor):
        cache.count("project_state", hit=True)
        body: bytes = held[1].body
        return body
    return await project_state_bytes(redis, actor, project_id, ttl_seconds=ttl_seconds, new_session=new_session)


async def get_project_state(
    db_session: AsyncSession, redis: Redis, actor: SessionUser, project_id: uuid.UUID, *, ttl_seconds: int
) -> ProjectRead:
    """The project as the API shows it, from the cache when possible; 404 if not visible."""
    body = await project_state_bytes(redis, actor, project_id, ttl_seconds=ttl_seconds, db_session=db_session)
    return msgspec.json.decode(body, type=ProjectRead)


def _canonical(value: Any) -> Any:
    """A stable JSON-able form of a filter value (sets sorted: their order varies between processes)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"filter": type(value).__name__, **fields}
    if isinstance(value, (set, frozenset)):
        return sorted(map(str, value))
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _list_cache_field(filters: list[StatementFilter], limit_offset: LimitOffset) -> str:
    """One hash field per distinct query, the same in every API process. ("ids": the fields of pages
    that hold ids; a release that cached whole pages under the same hash used other fields.)"""
    text = json.dumps(["ids", _canonical([*filters, limit_offset])], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# The list's order (API.md: newest first); the id settles equal creation times.
_LIST_ORDER = (Project.created_at.desc(), Project.id.desc())
_encode = msgspec.json.Encoder().encode


def _page_json(items: list[bytes], total: int, limit_offset: LimitOffset) -> bytes:
    """A ``ProjectPage`` as msgspec would encode it, around items that are already JSON."""
    tail = f'],"total":{total},"limit":{limit_offset.limit},"offset":{limit_offset.offset}}}'
    return b'{"items":[' + b",".join(items) + tail.encode()


# The filters and page of `GET /api/projects` without a query string, as the list's dependencies
# give them (the `created_at` bounds are always there, empty), and the cache field of that query.
DEFAULT_LIST_QUERY: tuple[list[StatementFilter], LimitOffset] = (
    [BeforeAfter("created_at", None, None)],
    LimitOffset(DEFAULT_LIMIT, 0),
)
DEFAULT_LIST_FIELD = _list_cache_field(*DEFAULT_LIST_QUERY)


def held_default_list(near: NearCache, actor: SessionUser) -> bytes | None:
    """The JSON of the actor's default list page if this process holds the page and the states of all
    its projects (see `cached_default_list`), else None."""
    if actor.is_admin:
        return None
    owner = str(actor.id)
    held = near.get(user_projects_key(owner), DEFAULT_LIST_FIELD)
    if held is None:
        return None
    bodies = []
    for project_id in held.ids:
        item = near.get(project_state_key(project_id))
        if item is None or item[1].tag != owner:
            return None
        bodies.append(item[1].body)
    cache.count("project_list", hit=True)
    return _page_json(bodies, held.total, DEFAULT_LIST_QUERY[1])


async def cached_default_list(redis: Redis, near: NearCache | None, actor: SessionUser) -> bytes | None:
    """The JSON of the actor's default list page (no query string) when the page and every project
    it shows are cached and current; None otherwise (the caller answers through ``list_for``, which
    loads and stores what is missing). No database session: one Redis call, whose entries the
    near-cache then keeps (they are dropped by the same notices as the request gate's, see
    app.lib.near_cache); what the process holds was already answered by the route's middleware
    (`held_default_list`), which runs first."""
    if actor.is_admin:  # an administrator's list is not cached (``list_for``)
        return None
    owner = str(actor.id)
    page_key = user_projects_key(owner)
    limit_offset = DEFAULT_LIST_QUERY[1]
    if not await cache.usable(redis):
        return None
    mark = near.mark() if near is not None else 0
    try:
        page_read, item_reads = await read_list_page(redis, owner, DEFAULT_LIST_FIELD)
    except RedisError:
        return None  # ``list_for`` answers from PostgreSQL
    stored = cache.current_entry(page_read)
    if stored is None or stored.tag != owner:
        return None
    page = list_page_of(stored)
    held_items = []
    for read in item_reads:
        entry = cache.current_entry(read)
        if entry is None or entry.tag != owner:
            return None
        held_items.append((read, entry))
    if near is not None:
        near.put(page_key, page, mark, field=DEFAULT_LIST_FIELD)
        for project_id, item in zip(page.ids, held_items, strict=True):
            near.put(project_state_key(project_id), item, mark)  # the request gate's form of a state
    cache.count("project_list", hit=True)
    return _page_json([entry.body for _, entry in held_items], page.total, limit_offset)


def keep_migration_keys(current: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """PATCHed metadata keeps what an import wrote (``KEPT_METADATA_KEYS``) when the client's new
    metadata lacks it."""
    kept = {key: value for key, value in (current or {}).items() if key in KEPT_METADATA_KEYS and key not in new}
    return {**new, **kept}


class ProjectService(RepositoryService[Project]):
    """Projects of a user; writes commit (the unit of work drops the cached state and lists)."""

    class Repository(SQLAlchemyAsyncRepository[Project]):
        model_type = Project

    repository_type = Repository

    async def list_for(
        self,
        actor: SessionUser,
        filters: list[StatementFilter],
        limit_offset: LimitOffset,
        *,
        redis: Redis,
        ttl_seconds: int,
    ) -> bytes:
        """Own projects (all for administrators), newest first: the JSON of a ``ProjectPage``.

        A user's page is cached as the ids it shows and its total; its items are the projects' own
        cached states, read in the same Redis call (app.domain.projects.cache). An edit of a project
        therefore leaves the page a hit, with that project's new state in it; a project that came,
        went or changed a listed field drops the user's pages (``ProjectListChanged``)."""
        if actor.is_admin:  # an administrator's list spans every owner: not worth caching
            return await self._page_from_database(None, filters, limit_offset)
        field = _list_cache_field(filters, limit_offset)
        try:
            if not await cache.usable(redis):
                return await self._page_from_database(actor.id, filters, limit_offset)
            page_read, item_reads = await read_list_page(redis, actor.id, field)
            stored = cache.current_entry(page_read)
            page_hit = stored is not None and stored.tag == str(actor.id)
            if stored is not None and page_hit:
                page = list_page_of(stored)
            else:
                page = await self._list_page(actor.id, filters, limit_offset)
                entry = list_page_entry(actor.id, page)
                fill = cache.Fill(user_projects_key(actor.id), page_read.generation, entry, field)
                await cache.store(redis, [fill], ttl_seconds=ttl_seconds)
                item_reads = await read_project_states(redis, page.ids)
        except RedisError as exc:
            logger.warning("project list cache skipped: redis unavailable", error=str(exc))
            return await self._page_from_database(actor.id, filters, limit_offset)
        items, all_cached = await self._item_states(actor.id, page.ids, item_reads, redis, ttl_seconds)
        cache.count("project_list", hit=page_hit and all_cached)
        if items is None:  # a listed project was deleted meanwhile: answer from PostgreSQL alone
            return await self._page_from_database(actor.id, filters, limit_offset)
        return _page_json(items, page.total, limit_offset)

    def _listed(self, owner_id: uuid.UUID | None, filters: list[StatementFilter], statement: Any) -> Any:
        if owner_id is not None:
            statement = statement.where(Project.owner_id == owner_id)
        for statement_filter in filters:
            statement = statement_filter.append_to_statement(statement, Project)
        return statement

    async def _list_page(
        self, owner_id: uuid.UUID, filters: list[StatementFilter], limit_offset: LimitOffset
    ) -> ListPage:
        """The ids of one page of a user's list, newest first, and the total of the query (one query,
        a second only for a page past the end)."""
        statement = self._listed(owner_id, filters, select(Project.id, func.count().over()))
        statement = limit_offset.append_to_statement(statement.order_by(*_LIST_ORDER), Project)
        rows = (await self.db_session.execute(statement)).all()
        if rows:
            return ListPage(ids=[str(row[0]) for row in rows], total=int(rows[0][1]))
        total = await self.db_session.scalar(self._listed(owner_id, filters, select(func.count(Project.id))))
        return ListPage(ids=[], total=int(total or 0))

    async def _item_states(
        self, owner_id: uuid.UUID, ids: list[str], reads: list[cache.CacheRead], redis: Redis, ttl_seconds: int
    ) -> tuple[list[bytes] | None, bool]:
        """The states of the listed projects, in order, from their cache entries (`reads`, one per id);
        those not cached (an edit by a job, an expired entry) are loaded in one query and stored.
        Also whether all were cached; (None, False) when a listed project no longer exists."""
        owner = str(owner_id)
        bodies: list[bytes | None] = []
        missing: dict[uuid.UUID, bytes] = {}  # id -> the generation its entry was read under
        for project_id, read in zip(ids, reads, strict=True):
            entry = cache.current_entry(read)
            visible = entry is not None and entry.tag == owner
            bodies.append(entry.body if entry is not None and visible else None)
            if not visible:
                missing[uuid.UUID(project_id)] = read.generation
        if not missing:
            return [body for body in bodies if body is not None], True
        statement = select(Project).where(Project.id.in_(missing), Project.owner_id == owner_id)
        loaded = {
            str(project.id): project_state_entry(project)
            for project in await self.db_session.scalars(statement.execution_options(populate_existing=True))
        }
        if len(loaded) < len(missing):
            return None, False
        fills = [
            cache.Fill(project_state_key(project_id), generation, loaded[str(project_id)])
            for project_id, generation in missing.items()
        ]
        await cache.store(redis, fills, ttl_seconds=ttl_seconds)
        return [
            body if body is not None else loaded[project_id].body for project_id, body in zip(ids, bodies, strict=True)
        ], False

    async def _page_from_database(
        self, owner_id: uuid.UUID | None, filters: list[StatementFilter], limit_offset: LimitOffset
    ) -> bytes:
        scope: dict[str, Any] = {} if owner_id is None else {"owner_id": owner_id}
        rows, total = await self.get_many_and_count(
            *filters, limit_offset, order_by=[(Project.created_at, True), (Project.id, True)], **scope
        )
        return _page_json([_encode(ProjectRead.from_model(row)) for row in rows], total, limit_offset)

    async def create_for(self, actor: SessionUser, data: ProjectCreate) -> Project:
        project = Project(
            id=uuid.uuid4(),
            owner_id=actor.id,
            name=data.name.strip() or data.name,
            description=data.description,
            workflow=data.workflow,
            metadata_=data.metadata,
        )
        self.db_session.add(project)
        record(self.db_session, ProjectChanged(project.id, project.owner_id))
        await self.db_session.commit()
        return project

    async def update_for(self, actor: SessionUser, project_id: uuid.UUID, data: ProjectUpdate) -> Project:
        project = await lock_project(self.db_session, actor, project_id)
        if not isinstance(data.name, msgspec.UnsetType):
            project.name = data.name
        if not isinstance(data.description, msgspec.UnsetType):
            project.description = data.description
        if not isinstance(data.metadata, msgspec.UnsetType):
            project.metadata_ = keep_migration_keys(project.metadata_, data.metadata)
        if not isinstance(data.status, msgspec.UnsetType) and data.status != project.status:
            project.status = data.status
            project.completed_at = utc_now() if data.status == "completed" else None
        record(self.db_session, ProjectEdited(project.id))
        await self.db_session.commit()
        return project

    async def delete_for(self, actor: SessionUser, project_id: uuid.UUID, *, settings: Settings) -> None:
        """Delete the project (its rows cascade), then its files on disk."""
        project = await lock_project(self.db_session, actor, project_id)
        record(self.db_session, ProjectDeleted(project.id, project.owner_id, dict(project.metadata_ or {})))
        await self.db_session.delete(project)
        await self.db_session.commit()
        directory = project_storage_dir(settings, project_id)
        try:
            await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=False)
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.error("project files not removed", project_id=str(project_id), path=str(directory), error=str(exc))
