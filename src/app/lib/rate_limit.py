"""Per-user (or per-address) rate limits by endpoint group, counted in Redis; 429 with Retry-After.

Why not Litestar's `RateLimitConfig`: it has one limit per middleware instance, keeps a JSON history
list per client that it reads and writes back (not atomic between API processes; it only holds a
per-process lock) and answers 429 without `Retry-After`. Here one atomic Lua call per request counts
a fixed window in `ratelimit:{user_id or ip:address}:{group}`. The count is taken by the request gate
(app.domain.accounts.middleware) in the same Redis call that checks the session, so a request pays
one round trip for both.

Routes name their group with `opt={"rate_limit_group": "auth" | "upload" | "jobs"}` (default
"default") and opt out with `opt={"skip_rate_limit": True}`. When Redis does not answer, requests
fail closed with 503.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.types import Scope

from app.config import Settings
from app.lib.errors import ServiceUnavailable, TooManyRequests

RATE_LIMIT_GROUP_OPT = "rate_limit_group"
SKIP_RATE_LIMIT_OPT = "skip_rate_limit"
GROUPS = ("auth", "upload", "jobs", "default")

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

# A Lua function: counts one request in a fixed window; used inside the request gate's script.
HIT_LUA = """
local function rate_limit_hit(key, window)
  local count = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, window)
    ttl = tonumber(window)
  end
  return count, ttl
end
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


def address_identity(scope: Scope) -> str:
    """Who an anonymous request is counted as: its client address."""
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def rate_limit_unavailable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        "Rate limiting is unavailable (Redis does not answer); try again shortly.", headers={"Retry-After": "5"}
    )


def check_limit(group: str, limit: Limit, count: int, ttl: int) -> None:
    """Raise 429 with Retry-After when `count` (this window's requests so far) is past the limit."""
    if count > limit.requests:
        retry_after = max(ttl, 1)
        raise TooManyRequests(
            f"Too many requests for '{group}': {limit.requests} per {limit.window_seconds} s. "
            f"Retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def route_group(scope: Scope) -> str:
    """The rate-limit group the matched route names (`opt={"rate_limit_group": ...}`), else "default"."""
    route_handler: Any = scope.get("route_handler")
    opt = getattr(route_handler, "opt", None) or {}
    group: str = opt.get(RATE_LIMIT_GROUP_OPT, "default")
    return group
