"""Route middleware that answers a read from the process's near-cache before the route runs.

A cached page the request gate has already authenticated (app.domain.accounts.middleware) and this
process holds (app.lib.near_cache) is sent right here: no routing of the handler, no guards, no
`before_request` hook, no response object, no per-request compression (a large body is held already
gzipped). What decides it is the route's `find(scope)`: a synchronous look-up in the near-cache with
the route's own visibility rule, None when anything is not held (then the route runs as always).

Only a request without a query string is looked at (the default page), so the app's guard on query
strings has nothing to refuse. The response is what the route would send: the same JSON and
headers, gzipped like the app's compression (at least `COMPRESS_FROM` bytes, `gzip` accepted).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import NamedTuple

from litestar.types import ASGIApp, Receive, Scope, Send

# The app's compression too (app.server's CompressionConfig): bodies from 2 kB, gzip level 1.
COMPRESS_FROM = 2048
GZIP_LEVEL = 1
_ACCEPT_ENCODING = b"accept-encoding"


class Held(NamedTuple):
    """A body as held in the near-cache: its JSON, the same gzipped (None under `COMPRESS_FROM`) and
    the extra response headers (an ETag)."""

    body: bytes
    gzipped: bytes | None
    headers: tuple[tuple[bytes, bytes], ...] = ()


def held_body(body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> Held:
    """A body to keep in the near-cache, compressed once now if it is large enough to be sent gzipped."""
    gzipped = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0) if len(body) >= COMPRESS_FROM else None
    return Held(body, gzipped, headers)


def _accepts_gzip(scope: Scope) -> bool:
    # The same test as Litestar's compression middleware (a substring of Accept-Encoding).
    for name, value in scope["headers"]:
        if name == _ACCEPT_ENCODING:
            return b"gzip" in value
    return False


async def send_held(scope: Scope, send: Send, held: Held) -> None:
    headers = [(b"content-type", b"application/json"), *held.headers]
    body = held.body
    if held.gzipped is not None and _accepts_gzip(scope):
        body = held.gzipped
        headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def answered_from_process(find: Callable[[Scope], Held | None]) -> Callable[[ASGIApp], ASGIApp]:
    """A route middleware (`middleware=[answered_from_process(find)]`) that sends what `find` holds
    for a request without a query string, else runs the route."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and not scope["query_string"] and scope.get("user") is not None:
                held = find(scope)
                if held is not None:
                    await send_held(scope, send, held)
                    return
            await app(scope, receive, send)

        return answer

    return middleware
