"""Cached project reads: the project state and each user's project lists (see app.lib.cache).

PUBLIC: every write that changes a project's row or its aggregates calls, after its commit,

    await invalidate_project(redis, project_id, owner_id)
"""

from __future__ import annotations

import uuid

from litestar.types import Scope
from redis.asyncio import Redis

from app.lib import cache


def project_state_key(project_id: uuid.UUID | str) -> str:
    return f"project:{project_id}:state"


def prefetch_project_state(scope: Scope) -> tuple[str, None]:
    """For the request gate (`cache.CACHE_PREFETCH_OPT`): the state entry of the path's project."""
    return project_state_key(scope["path_params"]["project_id"]), None


def user_projects_key(owner_id: uuid.UUID | str) -> str:
    """A hash: one field per query string of the list endpoint, dropped together."""
    return f"user:{owner_id}:projects"


async def invalidate_project(redis: Redis, project_id: uuid.UUID | str, owner_id: uuid.UUID | str) -> None:
    """Forget the cached state of a project and its owner's lists; call it after the commit. Never raises."""
    await cache.invalidate(redis, project_state_key(project_id), user_projects_key(owner_id))


async def invalidate_user_projects(redis: Redis, owner_id: uuid.UUID | str) -> None:
    await cache.invalidate(redis, user_projects_key(owner_id))
