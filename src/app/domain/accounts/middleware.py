"""The request gate: session, rate limit and the route's cached entry in ONE Redis call per request.

Every HTTP request carries a session token (Bearer header or the login cookie). The gate runs one
Lua script (by SHA) that
  1. reads `session:{id}` — absent means 401, and nothing is counted;
  2. counts the request in its rate-limit window (`ratelimit:{user_id}:{group}`), see app.lib.rate_limit;
  3. reads the route's cached entry when the route declares `CACHE_PREFETCH_OPT` (app.lib.cache),
     so a cached read such as `GET /api/projects/{id}` needs no further Redis call; a current entry
     the user may see is answered right here with its stored bytes (the handler is not entered).
The session is read from Redis on every request, so a logout, a suspension or a role change in any
API process takes effect on the very next request everywhere. The only thing remembered in the
process is which user a session id belongs to (it never changes), needed to name the rate-limit key
before the script runs; the first request of a session in a process reads the session first (two
round trips, once).

Public routes (`PUBLIC_PATHS` or `exclude_from_auth=True`) are counted per client address; routes
with `opt={"skip_rate_limit": True}` (health, metrics, /ws) skip the gate entirely — /ws
authenticates itself. When Redis does not answer, requests fail closed with 503.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.domain.accounts.sessions import (
    SESSION_COOKIE,
    SessionUser,
    session_id_of_token,
    session_key,
    session_user,
    store_unavailable,
)
from app.lib import cache
from app.lib.errors import NotAuthenticated
from app.lib.rate_limit import (
    HIT_LUA,
    SKIP_RATE_LIMIT_OPT,
    Limit,
    address_identity,
    check_limit,
    limits_from_settings,
    rate_limit_key,
    rate_limit_unavailable,
)
from app.lib.redis import run_script

# Reachable without a session. Handlers may also opt out with `exclude_from_auth=True`.
PUBLIC_PATHS = [
    r"^/health$",
    r"^/ready$",
    r"^/metrics",
    r"^/schema",
    r"^/api/auth/(register|login|verify-email)$",
]
_PUBLIC = re.compile("|".join(PUBLIC_PATHS))
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Session id -> user id; a session never changes its user. Bounded: cleared when full.
_SESSION_OWNERS_MAX = 100_000

# KEYS: [session], rate-limit window, [cache entry, its generation]. ARGV: window seconds,
# '1' when KEYS start with the session, '1' when a cache entry is read, the cache field ('' for none).
_GATE_SCRIPT = (
    HIT_LUA
    + cache.READ_ENTRY_LUA
    + """
local n = 1
local session = false
if ARGV[2] == '1' then
  session = redis.call('GET', KEYS[1])
  if not session then return {false} end
  n = 2
end
local count, ttl = rate_limit_hit(KEYS[n], ARGV[1])
if ARGV[3] == '1' then
  local generation, stored = cache_read(KEYS[n + 1], KEYS[n + 2], ARGV[4])
  return {session, count, ttl, generation, stored}
end
return {session, count, ttl}
"""
)


def token_from_connection(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The session token: `Authorization: Bearer <token>` first, else the session cookie."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.cookies.get(SESSION_COOKIE) or None


def _token_from_scope(scope: Scope) -> str | None:
    """`token_from_connection` straight from the raw headers (no Request object on the hot path)."""
    cookie_header = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
        elif name == b"cookie":
            cookie_header = value
    if cookie_header is None:
        return None
    return ASGIConnection(scope).cookies.get(SESSION_COOKIE) or None


def not_authenticated(detail: str = "The session is unknown or has expired; sign in again.") -> NotAuthenticated:
    return NotAuthenticated(detail, headers=_CHALLENGE)


class RequestGateMiddleware(ASGIMiddleware):
    """Authentication, rate limiting and the cache prefetch of one HTTP request (one Redis call)."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = SKIP_RATE_LIMIT_OPT

    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limits = limits
        self.session_owners: dict[str, str] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        route_handler: Any = scope.get("route_handler")
        opt = getattr(route_handler, "opt", None) or {}
        group = opt.get("rate_limit_group", "default")
        limit = self.limits.get(group, self.limits["default"])
        redis: Redis = scope["litestar_app"].state.redis
        if opt.get("exclude_from_auth") or _PUBLIC.match(scope["path"]):
            await self._count_anonymous(redis, scope, group, limit)
        else:
            answer = await self._authenticate(redis, scope, opt, group, limit)
            if answer is not None:
                await _send_json(send, answer)
                return
        await next_app(scope, receive, send)

    async def _count_anonymous(self, redis: Redis, scope: Scope, group: str, limit: Limit) -> None:
        key = rate_limit_key(address_identity(scope), group)
        try:
            _, count, ttl = await run_script(redis, _GATE_SCRIPT, [key], [limit.window_seconds, "0", "0", ""])
        except RedisError as exc:
            raise rate_limit_unavailable(exc) from exc
        check_limit(group, limit, int(count), int(ttl))

    async def _authenticate(
        self, redis: Redis, scope: Scope, opt: dict[str, Any], group: str, limit: Limit
    ) -> bytes | None:
        """Authenticate and count the request; returns the body of a cached answer the gate may send."""
        session_id = session_id_of_token(_token_from_scope(scope))
        if session_id is None:
            raise not_authenticated("Sign in first: send Authorization: Bearer <token> or the session cookie.")
        user_id = self.session_owners.get(session_id)
        if user_id is None:
            user_id = await self._session_owner(redis, session_id)
        keys = [session_key(session_id), rate_limit_key(user_id, group)]
        args: list[Any] = [limit.window_seconds, "1", "0", ""]
        prefetch: cache.Prefetch | None = opt.get(cache.CACHE_PREFETCH_OPT)
        wanted = prefetch.entry(scope) if prefetch is not None else None
        if wanted is not None:
            key, field = wanted
            keys += [key, cache.generation_key(key)]
            args[2:] = ["1", field or ""]
        try:
            reply = await run_script(redis, _GATE_SCRIPT, keys, args)
        except RedisError as exc:
            raise store_unavailable(exc) from exc
        user = session_user(reply[0], session_id)
        if user is None:  # ended (logout), expired or suspended
            self.session_owners.pop(session_id, None)
            raise not_authenticated()
        check_limit(group, limit, int(reply[1]), int(reply[2]))
        scope["user"] = user
        scope["auth"] = session_id
        if prefetch is None or wanted is None:
            return None
        read = cache.cache_read_of(reply[3:5])
        if prefetch.visible is not None:
            entry = cache.current_entry(read)
            if entry is not None and prefetch.visible(entry.tag, user):
                cache.count(prefetch.family, hit=True)
                return entry.body
        cache.remember_prefetch(scope, wanted[0], wanted[1], read)
        return None

    async def _session_owner(self, redis: Redis, session_id: str) -> str:
        """The user id of a session this process has not seen yet (one GET); 401 when there is none."""
        try:
            raw = await redis.get(session_key(session_id))
        except RedisError as exc:
            raise store_unavailable(exc) from exc
        user: SessionUser | None = session_user(raw, session_id)
        if user is None:
            raise not_authenticated()
        if len(self.session_owners) >= _SESSION_OWNERS_MAX:
            self.session_owners.clear()
        user_id = self.session_owners[session_id] = str(user.id)
        return user_id


async def _send_json(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def request_gate_middleware(settings: Settings) -> RequestGateMiddleware:
    return RequestGateMiddleware(limits_from_settings(settings))
