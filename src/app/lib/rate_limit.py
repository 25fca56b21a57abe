"""Per-user (or per-address) rate limits by endpoint group, counted in Redis; 429 with Retry-After.

Why not Litestar's `RateLimitConfig`: it has one limit per middleware instance, keeps a JSON history
list per client that it reads and writes back (not atomic between API processes; it only holds a
per-process lock) and answers 429 without `Retry-After`. Here one atomic Lua call per request counts
a fixed window in `ratelimit:{user_id or ip:address}:{group}`.

Routes name their group with `opt={"rate_limit_group": "auth" | "upload" | "jobs"}` (default
"default") and opt out with `opt={"skip_rate_limit": True}`. The middleware must run after
authentication so that `scope["user"]` is known. When Redis does not answer, requests fail closed
with 503.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.exceptions import RedisError

from app.config import Settings
from app.lib.errors import ServiceUnavailable, TooManyRequests

RATE_LIMIT_GROUP_OPT = "rate_limit_group"
SKIP_RATE_LIMIT_OPT = "skip_rate_limit"
GROUPS = ("auth", "upload", "jobs", "default")

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class Limit:
    requests: int
    window_seconds: int


def parse_limit(value: str) -> Limit:
    """'600/minute' → Limit(600, 60); the settings loader has validated the shape."""
    count, _, unit = value.partition("/")
    return Limit(int(count), _UNIT_SECONDS[unit])


def limits_from_settings(settings: Settings) -> dict[str, Limit]:
    return {
        "auth": parse_limit(settings.RATE_LIMIT_AUTH),
        "upload": parse_limit(settings.RATE_LIMIT_UPLOAD),
        "jobs": parse_limit(settings.RATE_LIMIT_JOBS),
        "default": parse_limit(settings.RATE_LIMIT_DEFAULT),
    }


def rate_limit_key(identity: str, group: str) -> str:
    return f"ratelimit:{identity}:{group}"


def _identity(scope: Scope) -> str:
    user = scope.get("user")
    user_id = getattr(user, "id", None)
    if user_id is not None:
        return str(user_id)
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware(ASGIMiddleware):
    """Counts each HTTP request against its route's group limit."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = SKIP_RATE_LIMIT_OPT

    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limits = limits

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        route_handler: Any = scope.get("route_handler")
        opt = getattr(route_handler, "opt", None) or {}
        group = opt.get(RATE_LIMIT_GROUP_OPT, "default")
        limit = self.limits.get(group, self.limits["default"])
        key = rate_limit_key(_identity(scope), group)
        redis = scope["litestar_app"].state.redis
        try:
            count, ttl = await redis.eval(_HIT_SCRIPT, 1, key, str(limit.window_seconds))
        except RedisError as exc:
            raise ServiceUnavailable(
                "Rate limiting is unavailable (Redis does not answer); try again shortly.",
                headers={"Retry-After": "5"},
            ) from exc
        if int(count) > limit.requests:
            retry_after = max(int(ttl), 1)
            raise TooManyRequests(
                f"Too many requests for '{group}': {limit.requests} per {limit.window_seconds} s. "
                f"Retry in {retry_after} s.",
                headers={"Retry-After": str(retry_after)},
            )
        await next_app(scope, receive, send)


def rate_limit_middleware(settings: Settings) -> RateLimitMiddleware:
    return RateLimitMiddleware(limits_from_settings(settings))
