"""Bounds on every request, enforced once at the edge instead of in each handler.

- JSON bodies: at most `JSON_BODY_MAX_BYTES` (413, counted while the body is read), nested at most
  `JSON_MAX_DEPTH` levels, and no string or key with a NUL character (PostgreSQL stores neither in text
  nor in jsonb) — 400 naming the place, e.g. `metadata.a.b[3]`; declared as JSON or not at all (another
  `Content-Type` is a 415). `BoundedRequest` does this when
  Litestar reads and decodes a body; multipart uploads keep the app's upload limit.
- `metadata` objects: `Metadata` (key count) and `check_metadata` (encoded size).
- Query strings: no NUL in any parameter (`refuse_unstorable_query`, an app-wide middleware).
- Integers read from a path, a query or a body are declared with the bounded aliases below, so a value
  PostgreSQL cannot bind (int4 past 2,147,483,647) is a 400 naming the parameter, never a 500.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import SerializationException
from litestar.params import Parameter
from litestar.types import ASGIApp, Receive, Scope, Send

from app.lib.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, field_error

INT4_MAX = 2_147_483_647
JSON_MAX_DEPTH = 32
# `metadata` of projects and positions: free-form, but copied into every budget version.
METADATA_MAX_BYTES = 64 * 1024
METADATA_MAX_KEYS = 1000
# NUL can only reach a JSON document as this escape (a raw control character is invalid JSON), so a
# body without it needs no string scan.
_NUL_ESCAPE = b"\\u0000"

# Integers that fit PostgreSQL's `integer`: version numbers, counts, positions in a list.
PositiveInt4 = Annotated[int, msgspec.Meta(ge=1, le=INT4_MAX)]
# A version number in a path or a query (`/versions/{number}`, `?version=`).
VersionNumberParameter = Annotated[int, Parameter(ge=1, le=INT4_MAX, description="a budget version number (1, 2, …)")]
OptionalVersionNumberParameter = Annotated[
    int | None, Parameter(ge=1, le=INT4_MAX, description="a budget version number; the latest when absent")
]


Metadata = Annotated[
    dict[str, Any],
    msgspec.Meta(
        max_length=METADATA_MAX_KEYS,
        description=f"a free-form JSON object: at most {METADATA_MAX_KEYS} keys at its top level, "
        f"{METADATA_MAX_BYTES // 1024} KiB encoded, {JSON_MAX_DEPTH} levels deep, no NUL character",
    ),
]


def check_metadata(value: Any, field: str = "metadata") -> None:
    """400 naming `field` when a metadata object is larger than METADATA_MAX_BYTES encoded (call it
    from `__post_init__` of a request body; msgspec checks the key count and the edge the rest)."""
    if isinstance(value, dict) and value and len(msgspec.json.encode(value)) > METADATA_MAX_BYTES:
        message = f"must be at most {METADATA_MAX_BYTES} bytes as JSON"
        raise InvalidInput(f"{field} {message}.", errors=[field_error(field, message)])


def _place(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "body"


def json_problem(value: Any, *, look_for_nul: bool = True, max_depth: int = JSON_MAX_DEPTH) -> tuple[str, str] | None:
    """(place, message) of the first thing in a decoded JSON value that we refuse, else None.

    Iterative, so a deep document cannot exhaust the stack here.
    """
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if look_for_nul and "\x00" in item:
                return _place(path), "must not contain the NUL character (\\u0000)"
            continue
        if not isinstance(item, dict | list):
            continue
        if len(path) >= max_depth:
            return _place(path), f"is nested deeper than {max_depth} levels"
        if isinstance(item, dict):
            for key, child in item.items():
                if look_for_nul and "\x00" in key:
                    return _place(path), "must not have a key with the NUL character (\\u0000)"
                stack.append((child, (*path, key)))
        else:
            stack.extend((child, (*path, index)) for index, child in enumerate(item))
    return None


def check_json_body(body: bytes, value: Any) -> None:
    """Raise 400 for a decoded body we refuse (see `json_problem`)."""
    problem = json_problem(value, look_for_nul=_NUL_ESCAPE in body)
    if problem:
        place, message = problem
        raise InvalidInput(f"{place} {message}.", errors=[field_error(place, message)])


class BoundedRequest(Request[Any, Any, Any]):
    """Litestar's request with a JSON body bounded in size (while it is read) and depth, free of NUL.

    Multipart uploads keep the app's limit (`UPLOAD_MAX_BYTES` plus the form's overhead)."""

    def _body_media_type(self) -> str | None:
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        return getattr(data.kwarg_definition, "media_type", None) if data is not None else None

    def _json_limit(self) -> int | None:
        if self._body_media_type() in (RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED):
            return None
        return int(self.app.state.settings.JSON_BODY_MAX_BYTES)

    async def stream(self) -> AsyncGenerator[bytes, None]:
        if self._body_media_type() == RequestEncodingType.MULTI_PART and self.content_type[0] != "multipart/form-data":
            raise UnsupportedMediaType(
                "An upload is a multipart/form-data body with the file in the field `file`.",
                errors=[field_error("content-type", "must be multipart/form-data")],
            )
        limit = self._json_limit()
        if limit is not None and (self.content_length or 0) > limit:
            raise _too_large(limit)
        received = 0
        async for chunk in super().stream():
            received += len(chunk)
            if limit is not None and received > limit:
                raise _too_large(limit)
            yield chunk

    async def json(self) -> Any:
        body = await self.body()
        if body:
            refuse_other_media_type(self.headers.get("content-type"))
        try:
            value = await super().json()
        except RecursionError:
            message = f"is nested deeper than {JSON_MAX_DEPTH} levels"
            raise InvalidInput(f"The body {message}.", errors=[field_error("body", message)]) from None
        except SerializationException as exc:  # msgspec says only "Number out of range - at `$[...]`"
            place = _out_of_range_place(body) if "out of range" in str(exc) else None
            if place is None:
                raise
            message = "must be a finite number (it is out of range)"
            raise InvalidInput(f"{place} {message}.", errors=[field_error(place, message)]) from exc
        check_json_body(body, value)
        return value


def refuse_other_media_type(content_type: str | None) -> None:
    """415 naming `content-type` when a JSON body is declared as something else (text/plain, a form, XML).

    No header is read as JSON (scripts often send none); a declared other type is not, so a browser form
    (text/plain needs no CORS preflight) cannot post JSON to the API."""
    if not content_type:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json")):
        return
    message = "must be application/json"
    raise UnsupportedMediaType(
        f"The body is declared as {media_type or content_type!r}; this endpoint reads JSON (application/json).",
        errors=[field_error("content-type", message)],
    )


def _out_of_range_place(body: bytes) -> str | None:
    """Where a JSON document holds a number no float can (1e999), read again with exact decimals."""
    try:
        value = msgspec.json.Decoder(float_hook=Decimal).decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, Decimal) and math.isinf(float(item)):
            return _place(path)
        if isinstance(item, dict):
            stack.extend((child, (*path, key)) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))
    return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"A JSON body may have at most {limit} bytes.", errors=[field_error("body", f"must be at most {limit} bytes")]
    )


def refuse_unstorable_query(app: ASGIApp) -> ASGIApp:
    """App-wide middleware: a query parameter with a NUL character is a 400 naming it.

    A middleware, not an app-wide guard: Litestar calls each guard with a copy of the route handler
    (`BaseRouteHandler.authorize_connection`), on every request of every route, which cost ~5 % of a
    cached read's CPU; here a query string without a NUL costs a substring search."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("query_string", b"")
        if b"%00" in raw or b"\x00" in raw:
            for name, value in ASGIConnection[Any, Any, Any, Any](scope).query_params.multi_items():
                if "\x00" in name or "\x00" in value:
                    place = name.replace("\x00", "\\u0000")
                    message = "must not contain the NUL character (\\u0000)"
                    raise InvalidInput(f"Query parameter {place} {message}.", errors=[field_error(place, message)])
        await app(scope, receive, send)

    return middleware
