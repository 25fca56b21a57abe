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
from advanced_alchemy.filters import LimitOffset, StatementFilter
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Project, utc_now
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.cache import may_see, project_state_entry, project_state_key, user_projects_key
from app.domain.projects.changes import ProjectChanged, ProjectDeleted, ProjectEdited
from app.domain.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate
from app.lib import cache
from app.lib.errors import NotFound
from app.lib.pagination import Page
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
    """One hash field per distinct query, the same in every API process."""
    text = json.dumps(_canonical([*filters, limit_offset]), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


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
    ) -> ProjectPage:
        """Own projects (all for administrators), newest first; a user's lists are cached."""

        async def load() -> ProjectPage:
            scope: dict[str, Any] = {} if actor.is_admin else {"owner_id": actor.id}
            rows, total = await self.get_many_and_count(
                *filters,
                limit_offset,
                order_by=[(Project.created_at, True), (Project.id, True)],
                **scope,
            )
            return ProjectPage(
                items=[ProjectRead.from_model(row) for row in rows],
                total=total,
                limit=limit_offset.limit,
                offset=limit_offset.offset,
            )

        if actor.is_admin:  # an administrator's list spans every owner: not worth caching
            return await load()
        page = await cache.get_or_load(
            redis,
            user_projects_key(actor.id),
            load,
            ProjectPage,
            ttl_seconds=ttl_seconds,
            field=_list_cache_field(filters, limit_offset),
            family="project_list",
        )
        return page if page is not None else await load()

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
