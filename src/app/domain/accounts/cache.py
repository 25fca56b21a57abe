"""`GET /api/me` from the cache: the user's API form, encoded once, dropped by every change of it.

`user:{id}:me` holds the body of `/api/me` (app.lib.cache: tagged with the user's id). The route
declares a cache prefetch, so the request gate reads it with the session in its one Redis call, or
answers from the process's near-cache with no Redis call at all; the handler (and PostgreSQL) is
reached only on a miss.

What keeps it right: every ORM flush that deletes a `User` or changes one in a field `/api/me`
shows (`UserRead`'s fields: role, status, e-mail verification, the last login, the name...) records
`UserChanged` with its transaction (app.lib.unit_of_work), so no write path can forget it; after the
commit, before the response goes out, the entry's generation is bumped and every API process's
near-cache drops it (app.lib.cache.invalidate). The user's very next request, in any process, reads
the new state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from litestar.types import Scope
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.db.models import User
from app.domain.accounts.schemas import UserRead
from app.domain.accounts.sessions import SessionUser
from app.lib import cache
from app.lib.unit_of_work import CommitContext, record

ME_FAMILY = "me"
# The model attributes /api/me shows: a change of any other column (the password hash, settings)
# leaves the entry alone.
_SHOWN_FIELDS = tuple(name for name in UserRead.__struct_fields__ if name != "id")
_encode = msgspec.json.Encoder().encode


def me_key(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}:me"


def me_entry(user: User) -> cache.CachedBytes:
    """The cached body of `/api/me`, tagged with the user's id."""
    return cache.CachedBytes(str(user.id), _encode(UserRead.from_model(user)))


def _me_entry_of(scope: Scope, user_id: str) -> tuple[str, None]:
    return me_key(user_id), None


def _own(tag: str, actor: SessionUser) -> bool:
    return tag == str(actor.id)


# For the request gate (`cache.CACHE_PREFETCH_OPT` of GET /api/me).
PREFETCH_ME = cache.Prefetch(entry=_me_entry_of, family=ME_FAMILY, visible=_own)


@dataclass(frozen=True)
class UserChanged:
    """A field `/api/me` shows changed (or the user came or went): its cached body is dropped."""

    user_id: uuid.UUID
    announces: ClassVar[bool] = False

    async def after_commit(self, context: CommitContext) -> None:
        await cache.invalidate(context.redis, me_key(self.user_id))


def _changes_me(user: User) -> bool:
    attributes = inspect(user).attrs
    return any(attributes[name].history.has_changes() for name in _SHOWN_FIELDS)


@event.listens_for(Session, "before_flush")
def _record_user_changes(session: Session, flush_context: Any, instances: Any) -> None:
    """Every flush that deletes a user or writes a shown field of one records ``UserChanged`` (a new
    user has no entry yet: a miss that finds no user stores nothing)."""
    for user in session.deleted:
        if isinstance(user, User):
            record(session, UserChanged(user.id))
    for user in session.dirty:
        if isinstance(user, User) and _changes_me(user):
            record(session, UserChanged(user.id))
