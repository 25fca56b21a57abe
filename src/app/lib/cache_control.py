"""`Cache-Control: no-store` on every answer of the API.

Every user reads `/api/projects`, `/api/me` and the other pages at the same URL, told apart only by
the Authorization header or the session cookie, so an answer that does not forbid it may be kept by a
shared cache (a proxy, a CDN) and handed to the next user; a browser would keep budgets and the
sign-in's token on disk. A `before_send` hook, so it covers every answer, also those the request
gate or the near-cache's route middleware send without a response object (app.lib.near_answer).
"""

from __future__ import annotations

from litestar.types import Message, Scope

API_PREFIX = "/api"
_HEADER = (b"cache-control", b"no-store")


async def forbid_storing(message: Message, scope: Scope) -> None:
    """`before_send` hook: `Cache-Control: no-store` on each answer under `/api`."""
    if message["type"] == "http.response.start" and scope["path"].startswith(API_PREFIX):
        message["headers"] = [*message.get("headers", ()), _HEADER]
