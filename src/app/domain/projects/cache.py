"""Cached project reads: the project state and each user's project lists (see app.lib.cache).

PUBLIC: every write that changes a project's row or its aggregates calls, after its commit,

    await invalidate_project(redis, project_id, owner_id)

and a writer that still holds its session may then put the new state in place at once, so that the
next read (the client's, right after its edit) is a hit:

    await refresh_project_state(redis, db_session, project_id, ttl_seconds=...)
"""

from __future__ import annotations

import uuid

import msgspec
from litestar.types import Scope
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Project
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.schemas import ProjectRead
from app.lib import cache

DEFAULT_TTL_SECONDS = 3600


def project_state_key(project_id: uuid.UUID | str) -> str:
    return f"project:{project_id}:state"


def _state_entry_of(scope: Scope) -> tuple[str, None] | None:
    settings = scope["litestar_app"].state.settings
    if settings.MIGRATION_READ_FROM == "files":  # the file store answers, not the cache
        return None
    return project_state_key(scope["path_params"]["project_id"]), None


def may_see(owner_tag: str, actor: SessionUser) -> bool:
    """Owners see their projects, administrators see all (others get 404, never 403)."""
    return actor.is_admin or owner_tag == str(actor.id)


# For the request gate (`cache.CACHE_PREFETCH_OPT` of GET /api/projects/{id}).
PREFETCH_PROJECT_STATE = cache.Prefetch(entry=_state_entry_of, family="project_state", visible=may_see)


def user_projects_key(owner_id: uuid.UUID | str) -> str:
    """A hash: one field per query string of the list endpoint, dropped together."""
    return f"user:{owner_id}:projects"


async def invalidate_project(redis: Redis, project_id: uuid.UUID | str, owner_id: uuid.UUID | str) -> None:
    """Forget the cached state of a project and its owner's lists; call it after the commit. Never raises."""
    await cache.invalidate(redis, project_state_key(project_id), user_projects_key(owner_id))


_encode_state = msgspec.json.Encoder().encode


def project_state_entry(project: Project) -> cache.CachedBytes:
    """The cached form of a project's state: encoded once, tagged with its owner for the visibility check."""
    return cache.CachedBytes(str(project.owner_id), _encode_state(ProjectRead.from_model(project)))


async def refresh_project_state(
    redis: Redis, db_session: AsyncSession, project_id: uuid.UUID, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> None:
    """Write-through after a committed write (see app.lib.cache.refresh_entry); never raises."""

    async def load() -> cache.CachedBytes | None:
        project = await db_session.get(Project, project_id, populate_existing=True)
        return project_state_entry(project) if project is not None else None

    await cache.refresh_entry(redis, project_state_key(project_id), load, ttl_seconds=ttl_seconds)


async def invalidate_user_projects(redis: Redis, owner_id: uuid.UUID | str) -> None:
    await cache.invalidate(redis, user_projects_key(owner_id))
