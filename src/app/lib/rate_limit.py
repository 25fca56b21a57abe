"""Per-user (or per-address) rate limits by endpoint group, counted in Redis; 429 with Retry-After.

Why not Litestar's `RateLimitConfig`: it has one limit per middleware instance, keeps a JSON history
list per client that it reads and writes back (not atomic between API processes; it only holds a
per-process lock) and answers 429 without `Retry-After`. Here a fixed window is counted in
`ratelimit:{user_id or ip:address}:{group}` by an atomic Lua function, run by the request gate
(app.domain.accounts.middleware) in the same Redis call that checks the session.

With the near-cache off (NEAR_CACHE_TTL_SECONDS=0) every request counts itself (a lease of one).
With it on, a process leases `lease_size` requests of the window at once and spends them locally
(`RateLeases`), so most requests need no Redis call: never more admitted than the limit across all
processes; a few leased requests may be stranded in a process when the window ends.

Routes name their group with `opt={"rate_limit_group": "auth" | "upload" | "jobs"}` (default
"default") and opt out with `opt={"skip_rate_limit": True}`. When Redis does not answer, requests
fail closed with 503.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from litestar.types import Scope
from redis.asyncio import Redis

from app.config import Settings
from app.lib.errors import ServiceUnavailable, TooManyRequests
from app.lib.redis import run_script

RATE_LIMIT_GROUP_OPT = "rate_limit_group"
SKIP_RATE_LIMIT_OPT = "skip_rate_limit"
GROUPS = ("auth", "upload", "jobs", "default")

_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# With the near-cache on, a process leases limit // LEASE_FRACTION requests of a window at once.
LEASE_FRACTION = 20
# ... and at most this many: a process that stops (or a test's app) strands what it has not spent.
LEASE_MAX = 100
_MAX_LEASES = 100_000
# Two leases are of the same window when their ends (measured from replies) are this close: windows
# last at least a second, replies differ by a round trip.
_SAME_WINDOW_SECONDS = 0.25

# A Lua function used inside the request gate's script: takes `want` requests of a fixed window
# (INCRBY) and grants those still under the limit: min(want, limit - count before). The grants of all
# processes together never exceed the limit. Returns the grant and the window's milliseconds left.
LEASE_LUA = """
local function rate_limit_lease(key, window, want, limit)
  want = tonumber(want)
  local count = redis.call('INCRBY', key, want)
  local pttl = redis.call('PTTL', key)
  if pttl < 0 then
    redis.call('EXPIRE', key, window)
    pttl = tonumber(window) * 1000
  end
  local granted = math.min(want, math.max(0, tonumber(limit) - (count - want)))
  return granted, pttl
end
"""


# KEYS: a window. ARGV: window seconds, limit. One request of the window (LEASE_LUA): {granted, ms left}.
_TAKE_ONE_LUA = (
    LEASE_LUA
    + """
local granted, pttl = rate_limit_lease(KEYS[1], ARGV[1], 1, ARGV[2])
return {granted, pttl}
"""
)
# KEYS: a window. Gives back one request taken from it (while the window lasts).
_GIVE_BACK_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
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


def too_many_requests(group: str, limit: Limit, retry_after: int) -> TooManyRequests:
    return TooManyRequests(
        f"Too many requests for '{group}': {limit.requests} per {limit.window_seconds} s. Retry in {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
    )


def seconds_left(milliseconds: int) -> int:
    """A Retry-After (whole seconds, at least 1) for a window with `milliseconds` left."""
    return max(1, math.ceil(milliseconds / 1000))


async def take_one(redis: Redis, key: str, limit: Limit) -> int:
    """Count one request in `key`'s window outside the request gate (a service's own limit): 0 when
    admitted, else the Retry-After. Raises RedisError."""
    granted, pttl = await run_script(redis, _TAKE_ONE_LUA, [key], [limit.window_seconds, limit.requests])
    return 0 if int(granted) > 0 else seconds_left(int(pttl))


async def give_back(redis: Redis, key: str) -> None:
    """Un-count a request `take_one` admitted (it turned out not to count). Raises RedisError."""
    await run_script(redis, _GIVE_BACK_LUA, [key], [])


def lease_size(limit: Limit) -> int:
    """Requests a process takes from the shared window at once: small against the limit, so that
    10/minute stays exact (1 at a time) and the tokens a process strands stay few."""
    return max(1, min(limit.requests // LEASE_FRACTION, LEASE_MAX))


class RateLeases:
    """The requests one API process has leased from the shared windows and not spent yet.

    `take(key)` answers a request without Redis while tokens last: 0 (admitted, one token spent), a
    Retry-After (> 0) until a window that refused this process ends, or None (ask Redis: the gate's
    script leases `lease_size` more, see LEASE_LUA, and `granted` records the answer). A process never
    admits more than it was granted, so all processes together never exceed a limit; tokens a process
    leased but did not spend before its window ended are lost — at most (processes − 1) × lease_size
    requests per window fewer than the limit.
    """

    def __init__(self) -> None:
        # key -> [tokens left, window end (monotonic), refused]
        self._leases: dict[str, list[Any]] = {}

    def take(self, key: str) -> int | None:
        lease = self._leases.get(key)
        if lease is None:
            return None
        now = time.monotonic()
        if now >= lease[1]:
            del self._leases[key]
            return None
        if lease[2]:
            return max(1, math.ceil(lease[1] - now))
        if lease[0] <= 0:
            return None
        lease[0] -= 1
        return 0

    def running_low(self, key: str, size: int) -> bool:
        """True once each time a lease falls to a quarter of `size` tokens: time to lease more in the
        background. Without it the tokens run out under load with a whole loop turn of requests in
        hand, and each of them asks Redis for a lease at once (a p99 stall every `size` × in-flight
        requests). Leases of under 4 tokens (strict limits) are not topped up."""
        lease = self._leases.get(key)
        return size >= 4 and lease is not None and not lease[2] and lease[0] == size // 4

    def granted(self, key: str, granted: int, milliseconds_left: int, *, spent: int = 1) -> int:
        """Record what the script granted (`spent` tokens of it go to the request that asked: 1, or
        0 for a background top-up); 0 or a Retry-After."""
        if len(self._leases) >= _MAX_LEASES:
            self._leases.clear()
        window_end = time.monotonic() + milliseconds_left / 1000
        lease = self._leases.get(key)
        same_window = lease is not None and abs(lease[1] - window_end) < _SAME_WINDOW_SECONDS
        if granted <= 0:
            # A concurrent request of this process may have leased the window's last tokens just
            # before this refusal: those stay spendable (the refusal only means Redis has no more).
            if lease is None or not same_window or lease[2] or lease[0] <= 0:
                self._leases[key] = [0, window_end, True]
            return seconds_left(milliseconds_left)
        if lease is not None and not lease[2] and same_window:
            lease[0] += granted - spent  # concurrent requests that each leased from the same window
        else:  # tokens of another window are never spent in this one
            self._leases[key] = [granted - spent, window_end, False]
        return 0


def route_group(scope: Scope) -> str:
    """The rate-limit group the matched route names (`opt={"rate_limit_group": ...}`), else "default"."""
    route_handler: Any = scope.get("route_handler")
    opt = getattr(route_handler, "opt", None) or {}
    group: str = opt.get(RATE_LIMIT_GROUP_OPT, "default")
    return group
