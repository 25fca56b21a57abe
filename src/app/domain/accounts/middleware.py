"""The request gate: session, rate limit and the route's cached entry in at most ONE Redis call.

An authenticated request whose session and a leased rate-limit token the process's near-cache holds
(app.lib.near_cache, app.lib.rate_limit) makes no Redis call in the gate, whatever its route; for a
route with a cache prefetch (`GET /api/projects/{id}`, `GET /api/me`) the current entry must be held
too, and one the user may see is answered right here. Writers drop what they change from every
process's near-cache before they answer (logout, suspension, a role or password change drop the
session keys; an edit its cache keys), so each takes effect on the very next request, on any route.

Every HTTP request carries a session token (Bearer header or the login cookie). Unless the
near-cache answers it, the gate runs one Lua script (by SHA) that
  1. reads `session:{id}` (unless the near-cache holds it) — absent means 401, and nothing is counted;
  2. counts the request (or leases a batch of tokens) in its rate-limit window
     (`ratelimit:{user_id}:{group}`), see app.lib.rate_limit;
  3. reads the route's cached entry when the route declares `CACHE_PREFETCH_OPT` (app.lib.cache; its
     key may name the user, as `/api/me`'s does), so a cached read such as `GET /api/projects/{id}`
     needs no further Redis call; a current entry the user may see is answered right here with its
     stored bytes (the handler is not entered).
Besides the near-cache, the process remembers which user a session id belongs to (it never
changes), needed to name the rate-limit key before the script runs; the first request of a session
in a process reads the session first (two round trips, once).

Public routes (`PUBLIC_PATHS` or `exclude_from_auth=True`) are counted per client address; routes
with `opt={"skip_rate_limit": True}` (health, metrics, /ws) skip the gate entirely — /ws
authenticates itself. When Redis does not answer, requests fail closed with 503 (only a request
whose session and token the near-cache holds passes, until the near-cache notices: at most
LIVENESS_SECONDS).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

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
    session_user_for,
    store_unavailable,
)
from app.lib import cache
from app.lib.errors import NotAuthenticated
from app.lib.near_cache import NEAR_CACHE_STATE, NearCache
from app.lib.rate_limit import (
    LEASE_LUA,
    SKIP_RATE_LIMIT_OPT,
    Limit,
    RateLeases,
    address_identity,
    lease_size,
    limits_from_settings,
    rate_limit_key,
    rate_limit_unavailable,
    seconds_left,
    too_many_requests,
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

# KEYS: [session], rate-limit window, [cache entry, its generation]. ARGV: window seconds, '1' when
# KEYS start with the session, '1' when a cache entry is read, the cache field ('' for none), the
# requests to lease ('0': none, the request spent a token this process holds), the limit.
_GATE_SCRIPT = (
    LEASE_LUA
    + cache.READ_ENTRY_LUA
    + """
local n = 1
local session = false
if ARGV[2] == '1' then
  session = redis.call('GET', KEYS[1])
  if not session then return {false} end
  n = 2
end
local granted, pttl = 0, 0
if ARGV[5] ~= '0' then granted, pttl = rate_limit_lease(KEYS[n], ARGV[1], ARGV[5], ARGV[6]) end
if ARGV[3] == '1' then
  local generation, stored = cache_read(KEYS[n + 1], KEYS[n + 2], ARGV[4])
  return {session, granted, pttl, generation, stored}
end
return {session, granted, pttl}
"""
)


def cookie_counts(origin: str | None, host: str | None, public_url: str) -> bool:
    """Whether the session cookie may authenticate a request or socket that a browser says comes from
    `origin`: only from the service's own pages (the Host it was sent to, or PUBLIC_URL's origin), or
    from no browser (no Origin header).

    A browser sends the cookie with what any same-site page sends or opens (another port of the host,
    a sibling subdomain: SameSite=Lax does not stop it): a POST with a body of no declared type, which
    needs no CORS preflight, or a WebSocket, which no CORS rule keeps that page from reading."""
    if origin is None:
        return True
    own = {f"http://{host}".lower(), f"https://{host}".lower()} if host else set()
    if public_url:
        public = urlsplit(public_url)
        own.add(f"{public.scheme}://{public.netloc}".lower())
    return origin.rstrip("/").lower() in own


def token_from_scope(scope: Scope) -> str | None:
    """The session token: `Authorization: Bearer <token>` first, else the session cookie (`cookie_counts`).
    Read straight from the raw headers (no Request object on the hot path)."""
    cookie_header = origin = host = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
        elif name == b"cookie":
            cookie_header = value
        elif name == b"origin":
            origin = value.decode("latin-1")
        elif name == b"host":
            host = value.decode("latin-1")
    if cookie_header is None:
        return None
    if origin is not None and not cookie_counts(origin, host, scope["litestar_app"].state.settings.PUBLIC_URL):
        return None
    return ASGIConnection(scope).cookies.get(SESSION_COOKIE) or None


def not_authenticated(detail: str = "The session is unknown or has expired; sign in again.") -> NotAuthenticated:
    return NotAuthenticated(detail, headers=_CHALLENGE)


class RequestGateMiddleware(ASGIMiddleware):
    """Authentication, rate limiting and the cache prefetch of one HTTP request: no Redis call when the
    near-cache holds all of it, else one."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = SKIP_RATE_LIMIT_OPT

    def __init__(self, limits: dict[str, Limit], *, leases: bool = False) -> None:
        self.limits = limits
        self.session_owners: dict[str, str] = {}
        # Rate-limit tokens leased in batches; only with the near-cache (off: every request counts in Redis).
        self.leases = RateLeases() if leases else None
        self._top_ups: set[asyncio.Task[None]] = set()  # referenced until done (the loop keeps weak ones)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        route_handler: Any = scope.get("route_handler")
        opt = getattr(route_handler, "opt", None) or {}
        group = opt.get("rate_limit_group", "default")
        limit = self.limits.get(group, self.limits["default"])
        state = scope["litestar_app"].state
        if opt.get("exclude_from_auth") or _PUBLIC.match(scope["path"]):
            await self._count_anonymous(state.redis, scope, group, limit)
        else:
            near: NearCache | None = state.get(NEAR_CACHE_STATE)
            answer = await self._authenticate(state.redis, near, scope, opt, group, limit)
            if answer is not None:
                await _send_json(send, answer)
                return
        await next_app(scope, receive, send)

    def _take_token(self, redis: Redis, key: str, limit: Limit) -> int | None:
        """`RateLeases.take`, and a background lease of more tokens when the lease runs low."""
        assert self.leases is not None
        refused = self.leases.take(key)
        if refused == 0 and self.leases.running_low(key, lease_size(limit)):
            task = asyncio.create_task(self._top_up(redis, key, limit))
            self._top_ups.add(task)
            task.add_done_callback(self._top_ups.discard)
        return refused

    async def _top_up(self, redis: Redis, key: str, limit: Limit) -> None:
        """Lease `lease_size` more tokens of the window for this process (no request waits on it). A
        refusal or a failure changes nothing the requests need: they spend what is left, then ask."""
        try:
            _, granted, pttl = await run_script(
                redis, _GATE_SCRIPT, [key], [limit.window_seconds, "0", "0", "", lease_size(limit), limit.requests]
            )
        except RedisError:
            return
        assert self.leases is not None
        self.leases.granted(key, int(granted), int(pttl), spent=0)

    def _lease_size(self, limit: Limit) -> int:
        return lease_size(limit) if self.leases is not None else 1

    def _granted(self, key: str, granted: int, milliseconds_left: int) -> int:
        """0 when the script admitted the request, else its Retry-After."""
        if self.leases is not None:
            return self.leases.granted(key, granted, milliseconds_left)
        return 0 if granted > 0 else seconds_left(milliseconds_left)

    async def _count_anonymous(self, redis: Redis, scope: Scope, group: str, limit: Limit) -> None:
        """Anonymous requests (sign-in, registration) count one by one in Redis: they are rare, and a
        client address is shared by many users whose leased tokens one process could strand."""
        key = rate_limit_key(address_identity(scope), group)
        try:
            _, granted, pttl = await run_script(
                redis, _GATE_SCRIPT, [key], [limit.window_seconds, "0", "0", "", 1, limit.requests]
            )
        except RedisError as exc:
            raise rate_limit_unavailable(exc) from exc
        if int(granted) <= 0:
            raise too_many_requests(group, limit, seconds_left(int(pttl)))

    def _answer_from_process(
        self,
        redis: Redis,
        near: NearCache,
        scope: Scope,
        session_id: str,
        held_session: tuple[SessionUser, str],
        prefetch: cache.Prefetch | None,
        group: str,
        limit: Limit,
    ) -> tuple[bool, bytes | None]:
        """Any authenticated request answered with no Redis call: the session (held), a rate-limit
        token and, for a route with a cache prefetch, the entry are all held by this process. (True,
        body) for a cached answer to send, (True, None) to go on to the handler, (False, None) when a
        token or the entry is not held (the one Redis call follows; no token was spent)."""
        user, user_id = held_session
        wanted = prefetch.entry(scope, user_id) if prefetch is not None else None
        held = None
        if wanted is not None:
            held = near.get(wanted[0], wanted[1])
            if held is None:  # the Redis call reads the entry (and leases tokens if needed)
                return False, None
        if self.leases is None:
            return False, None
        refused = self._take_token(redis, rate_limit_key(user_id, group), limit)
        if refused is None:
            return False, None
        if refused:
            raise too_many_requests(group, limit, refused)
        scope["user"] = user
        scope["auth"] = session_id
        if prefetch is None or wanted is None or held is None:
            return True, None
        read, entry = held
        # The same visibility rule as the Redis path: another user's entry goes on to the handler (404).
        if _answerable(scope) and prefetch.visible is not None and prefetch.visible(entry.tag, user):
            cache.count(prefetch.family, hit=True)
            return True, entry.body
        cache.remember_prefetch(scope, wanted[0], wanted[1], read)
        return True, None

    async def _authenticate(
        self, redis: Redis, near: NearCache | None, scope: Scope, opt: dict[str, Any], group: str, limit: Limit
    ) -> bytes | None:
        """Authenticate and count the request; returns the body of a cached answer the gate may send."""
        session_id = session_id_of_token(token_from_scope(scope))
        if session_id is None:
            raise not_authenticated("Sign in first: send Authorization: Bearer <token> or the session cookie.")
        prefetch: cache.Prefetch | None = opt.get(cache.CACHE_PREFETCH_OPT)
        if prefetch is not None and cache.invalidations_pending():
            # An entry a failed invalidation should have made stale may still look current in Redis
            # (a deleted project): the handler's read replays the invalidation first.
            prefetch = None
        # A session the near-cache holds is current (its writers drop it from every process before
        # they answer): it is neither read from Redis nor decoded again.
        held_session: tuple[SessionUser, str] | None = None
        if near is not None:
            held_session = near.get(session_key(session_id))
            if held_session is not None:
                answered, body = self._answer_from_process(
                    redis, near, scope, session_id, held_session, prefetch, group, limit
                )
                if answered:
                    return body
        # Noted before the Redis read: a near-cache notice handled meanwhile forbids keeping what was read.
        mark = near.mark() if near is not None else 0
        if held_session is not None:
            user_id = held_session[1]
        else:
            user_id = self.session_owners.get(session_id) or await self._session_owner(redis, session_id)
        wanted = prefetch.entry(scope, user_id) if prefetch is not None else None
        rate_key = rate_limit_key(user_id, group)
        refused = self._take_token(redis, rate_key, limit) if self.leases is not None else None
        want = self._lease_size(limit) if refused is None else 0
        reads_session = held_session is None
        keys = [session_key(session_id), rate_key] if reads_session else [rate_key]
        args: list[Any] = [limit.window_seconds, "1" if reads_session else "0", "0", "", want, limit.requests]
        if wanted is not None:
            key, field = wanted
            keys += [key, cache.generation_key(key)]
            args[2:4] = ["1", field or ""]
        try:
            reply = await run_script(redis, _GATE_SCRIPT, keys, args)
        except RedisError as exc:
            raise store_unavailable(exc) from exc
        if held_session is not None:
            user = held_session[0]
        else:
            found = session_user_for(reply[0], session_id)
            if found is None:  # ended (logout), expired or suspended
                self.session_owners.pop(session_id, None)
                raise not_authenticated()
            user, session_seconds_left = found
            if near is not None:
                # With the user id as text: formatting a UUID per request showed in the profile.
                near.put(session_key(session_id), (user, user_id), mark, ttl=session_seconds_left)
        if refused is None:
            refused = self._granted(rate_key, int(reply[1]), int(reply[2]))
        if refused:
            raise too_many_requests(group, limit, refused)
        scope["user"] = user
        scope["auth"] = session_id
        if prefetch is None or wanted is None:
            return None
        read = cache.cache_read_of(reply[3:5])
        entry = cache.current_entry(read)
        if entry is not None and near is not None:
            near.put(wanted[0], (read, entry), mark, field=wanted[1])
        if (
            entry is not None
            and _answerable(scope)
            and prefetch.visible is not None
            and prefetch.visible(entry.tag, user)
        ):
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


def _answerable(scope: Scope) -> bool:
    """A cached read is answered here only without a query string: the gate runs before the routes'
    guards, and the app-wide one refuses some query strings (a NUL character) with a 400."""
    return not scope["query_string"]


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
    return RequestGateMiddleware(limits_from_settings(settings), leases=settings.NEAR_CACHE_TTL_SECONDS > 0)
