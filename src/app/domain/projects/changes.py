"""What a transaction did to a project, recorded with it (app.lib.unit_of_work) and acted on after its commit.

Every write to a project's data takes the project's row lock (``lock_project``), which records
``ProjectChanged``; after the commit the project's cached state and its owner's lists are dropped,
and listeners (the old file store's mirror) follow. A deletion records ``ProjectDeleted``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.projects.cache import invalidate_project, refresh_project_state
from app.lib.unit_of_work import CommitContext


@dataclass(frozen=True)
class ProjectChanged:
    """The project's row, budget, documents or results changed."""

    project_id: uuid.UUID
    owner_id: uuid.UUID
    announces: ClassVar[bool] = False

    async def after_commit(self, context: CommitContext) -> None:
        await invalidate_project(context.redis, self.project_id, self.owner_id)


@dataclass(frozen=True)
class ProjectEdited:
    """A user's edit of the project: its new state is written through to the cache after the commit
    (after ``ProjectChanged`` dropped the old one), so the client's next read is a hit."""

    project_id: uuid.UUID
    announces: ClassVar[bool] = False

    async def after_commit(self, context: CommitContext) -> None:
        async with AsyncSession(context.bind, expire_on_commit=False) as session:
            await refresh_project_state(
                context.redis, session, self.project_id, ttl_seconds=context.settings.CACHE_TTL_SECONDS
            )


@dataclass(frozen=True)
class ProjectProgressed(ProjectChanged):
    """Only the project's progress moved (while a job runs): listeners that follow the data skip it."""


@dataclass(frozen=True)
class ProjectDeleted(ProjectChanged):
    """The project is gone; ``metadata`` is its row's metadata from before the delete."""

    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
