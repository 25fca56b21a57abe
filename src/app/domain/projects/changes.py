"""What a transaction did to a project, recorded with it (app.lib.unit_of_work) and acted on after its commit.

Every write to a project's data takes the project's row lock (``lock_project``), which records
``ProjectChanged``: after the commit the project's cached state is dropped, and listeners (the old
file store's mirror) follow. A deletion records ``ProjectDeleted``.

What can change a user's list pages — a project created or deleted, a change of a field the list
filters or sorts by (``LISTED_FIELDS``) — records ``ProjectListChanged``: after the commit the
owner's list pages are dropped. Through the ORM it is recorded here, at every flush (a new or deleted
``Project``, a changed listed attribute), so no write path can forget it; a statement that writes
those columns without the ORM (app.domain.projects.stages) records it itself. An edit that changes
none of them (a position, the totals, the progress) leaves the pages alone: they hold only ids, and
their items are the projects' state entries (app.domain.projects.cache).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db.models import Project
from app.domain.projects.cache import (
    LISTED_FIELDS,
    invalidate_project,
    invalidate_user_projects,
    refresh_project_state,
    write_project_state,
)
from app.lib.cache import CachedBytes
from app.lib.unit_of_work import CommitContext, record


@dataclass(frozen=True)
class ProjectChanged:
    """The project's row, budget, documents or results changed."""

    project_id: uuid.UUID
    owner_id: uuid.UUID
    announces: ClassVar[bool] = False

    async def after_commit(self, context: CommitContext) -> None:
        await invalidate_project(context.redis, self.project_id)


@dataclass(frozen=True)
class ProjectListChanged:
    """The owner's list pages may have changed: a project came or went, or a listed field changed."""

    owner_id: uuid.UUID
    announces: ClassVar[bool] = False

    async def after_commit(self, context: CommitContext) -> None:
        await invalidate_user_projects(context.redis, self.owner_id)


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
class ProjectStateWritten(ProjectChanged):
    """A write that knows the project's committed row (an edit's ``UPDATE … RETURNING``): after the
    commit the cache is dropped and ``state`` put in place in one Redis MULTI, unless another write
    bumped the state's generation since ``generation`` was read before the commit (see
    ``write_project_state``). Listeners see it as the ``ProjectChanged`` it is."""

    state: CachedBytes = field(compare=False, hash=False, default=CachedBytes("", b""))
    generation: bytes | None = field(compare=False, hash=False, default=None)

    async def after_commit(self, context: CommitContext) -> None:
        await write_project_state(
            context.redis,
            self.project_id,
            self.state,
            self.generation if self.state.body else None,
            ttl_seconds=context.settings.CACHE_TTL_SECONDS,
        )


@dataclass(frozen=True)
class ProjectProgressed(ProjectChanged):
    """Only the project's progress moved (while a job runs): listeners that follow the data skip it,
    and the cached pages of its positions stay."""

    async def after_commit(self, context: CommitContext) -> None:
        await invalidate_project(context.redis, self.project_id, positions=False)


@dataclass(frozen=True)
class ProjectDeleted(ProjectChanged):
    """The project is gone; ``metadata`` is its row's metadata from before the delete."""

    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _changes_a_list(project: Project) -> bool:
    attributes = inspect(project).attrs
    return any(attributes[name].history.has_changes() for name in LISTED_FIELDS)


@event.listens_for(Session, "before_flush")
def _record_list_changes(session: Session, flush_context: Any, instances: Any) -> None:
    """Every flush that inserts or deletes a project, or changes a listed field of one, records
    ``ProjectListChanged`` for the owner (the old owner too, should a project ever change hands)."""
    owners: set[uuid.UUID] = set()
    for project in (*session.new, *session.deleted):
        if isinstance(project, Project) and project.owner_id is not None:
            owners.add(project.owner_id)
    for project in session.dirty:
        if isinstance(project, Project) and _changes_a_list(project):
            owners.update(owner for owner in inspect(project).attrs.owner_id.history.sum() if owner is not None)
            if project.owner_id is not None:
                owners.add(project.owner_id)
    for owner_id in owners:
        record(session, ProjectListChanged(owner_id))
