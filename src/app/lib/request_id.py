"""Request ids: taken from X-Request-ID or made up, added to every log line, echoed in the response.

The id lives in one ContextVar that a structlog processor (`add_request_id`, see app.lib.logging)
reads when a line is logged: setting it costs one `ContextVar.set`, where binding structlog's
context variables per request cost several percent of a cached read.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from contextvars import ContextVar
from random import getrandbits  # an id, not a secret: os.urandom's syscall cost 12 % of a cached read
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_HEADER_BYTES = HEADER.encode()

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def add_request_id(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the request id of the request being served, if any."""
    rid = current_request_id.get()
    if rid is not None:
        event_dict.setdefault("request_id", rid)
    return event_dict


def _request_id(scope: Scope) -> str:
    """The request's id: kept in the scope's state, taken from X-Request-ID (64 characters) or made up."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        incoming = next((value for name, value in scope["headers"] if name == _HEADER_BYTES), b"")
        rid = state["request_id"] = incoming[:64].decode("latin-1") if incoming else f"{getrandbits(128):032x}"
    return str(rid)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Sets the id for the log lines of the request; `add_request_id_header` puts it on the answer."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        token = current_request_id.set(_request_id(scope))
        try:
            await app(scope, receive, send)
        finally:
            current_request_id.reset(token)

    return middleware


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """`before_send` hook: every HTTP answer carries X-Request-ID — also those that never reached the
    middleware (an unknown route) or that an exception in a middleware ended (401 and 429 of the gate),
    which Litestar sends outside the middleware stack."""
    if message["type"] == "http.response.start":
        message["headers"] = [*message.get("headers", ()), (_HEADER_BYTES, _request_id(scope).encode("latin-1"))]
