"""Litestar guards: `(connection, handler)` functions that refuse a request early.

Guards are `async def` although they do not await: Litestar runs a sync guard in a worker thread,
which costs a thread hop on every request (see the hot-path profile in README "Benchmarks").
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.domain.accounts.sessions import SessionUser
from app.lib.errors import Forbidden, NotAuthenticated


def current_session_user(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionUser:
    """The authenticated user of a connection; 401 when there is none."""
    user = connection.scope.get("user")
    if not isinstance(user, SessionUser):
        raise NotAuthenticated("Sign in first: send Authorization: Bearer <token> or the session cookie.")
    return user


async def requires_active_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Any signed-in, not suspended user (pending users may work, see API.md)."""
    user = current_session_user(connection)
    if user.status == "suspended":
        raise Forbidden("This account is suspended.")


async def requires_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Operators only (SAQ monitor, user administration)."""
    user = current_session_user(connection)
    if user.role != "admin":
        raise Forbidden("Administrators only.")
