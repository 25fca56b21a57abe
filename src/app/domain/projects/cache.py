"""Cached project reads: the project state and each user's project lists (see app.lib.cache).

PUBLIC: every write that changes a project's row or its aggregates calls, after its commit,

    await invalidate_project(redis, project_id, owner_id)
"""

from __future__ import annotations

import uuid

from litestar.types import Scope
from redis.asyncio import Redis

from app.domain.accounts.sessions import SessionUser
from app.lib import cache


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


async def invalidate_user_projects(redis: Redis, owner_id: uuid.UUID | str) -> None:
    await cache.invalidate(redis, user_projects_key(owner_id))
