"""Authentication: every HTTP request carries a session token (Bearer header or the login cookie).

The session in Redis holds the user id, role and status, so authenticating costs one Redis GET and
no PostgreSQL query. WebSockets authenticate themselves with `resolve_session` (token in the query).
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from app.domain.accounts.sessions import SESSION_COOKIE, resolve_session
from app.lib.errors import NotAuthenticated

# Reachable without a session. Handlers may also opt out with `exclude_from_auth=True`.
PUBLIC_PATHS = [
    r"^/health$",
    r"^/ready$",
    r"^/metrics",
    r"^/schema",
    r"^/api/auth/(register|login|verify-email)$",
]


def token_from_connection(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The session token: `Authorization: Bearer <token>` first, else the session cookie."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.cookies.get(SESSION_COOKIE) or None


class SessionAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        token = token_from_connection(connection)
        challenge = {"WWW-Authenticate": "Bearer"}
        if token is None:
            raise NotAuthenticated(
                "Sign in first: send Authorization: Bearer <token> or the session cookie.", headers=challenge
            )
        user = await resolve_session(connection.app.state.redis, token)
        if user is None:
            raise NotAuthenticated("The session is unknown or has expired; sign in again.", headers=challenge)
        return AuthenticationResult(user=user, auth=user.session_id)


session_auth_middleware = DefineMiddleware(
    SessionAuthenticationMiddleware, exclude=PUBLIC_PATHS, scopes={ScopeType.HTTP}
)
