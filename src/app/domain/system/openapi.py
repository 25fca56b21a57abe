"""The OpenAPI document as the API really behaves (issue 14 part 5).

Litestar generates the document from the handlers; this module corrects, in one place, what it
cannot know:
- errors are RFC 9457 `application/problem+json`, and each operation lists every status it can
  answer: 400 always (bounds, NUL in a query), 401/403 when it needs a session, 404 with a path id,
  409 on writes, 412 with `If-Match`, 413 and 415 with a body, 429 when rate limited,
  503 when it needs Redis (sessions, rate limits) or refuses writes in `files_only` mode;
- request bodies are described as validated: `additionalProperties: false` where unknown fields are
  refused, `required: false` where the body is optional;
- headers are typed as sent (`Last-Modified` is an HTTP date), file downloads name their media types,
  a 204 has no body, and the session is declared as a bearer token or cookie.

`HonestJsonRenderPlugin` & co serve the corrected document at `/schema/openapi.json` and in the UIs;
it is built once per app, on the first request for it.
"""

from __future__ import annotations

import copy
import re
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.routes import HTTPRoute
from litestar.types import Empty, Message, Scope

from app.domain.accounts.middleware import PUBLIC_PATHS
from app.domain.accounts.sessions import SESSION_COOKIE
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.lib.rate_limit import SKIP_RATE_LIMIT_OPT

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/ProblemDetails"}
PROBLEM_DETAILS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` name the fields at fault.",
    "required": ["status", "title"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "the token of POST /api/auth/login"},
    "session_cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "set by login"},
}
HTTP_DATE_HEADER: dict[str, Any] = {
    "schema": {"type": "string"},
    "description": "an HTTP date (RFC 9110), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`",
    "required": False,
}
RETRY_AFTER_HEADER: dict[str, Any] = {
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
    "description": "seconds to wait before trying again",
    "required": False,
}
ETAG_HEADER: dict[str, Any] = {
    "schema": {"type": "string"},
    "description": 'the budget version the answer reflects, e.g. `"7"` (send it back as `If-Match`)',
    "required": False,
}
# Answers that carry the budget version as an ETag (app.domain.budgets.controllers).
ETAG_OPERATIONS = {
    ("/api/projects/{project_id}/positions", "get"),
    ("/api/projects/{project_id}/positions", "post"),
    ("/api/projects/{project_id}/positions/{position_id}", "patch"),
    ("/api/projects/{project_id}/positions/{position_id}", "delete"),
}


# Media types of the files an endpoint streams (the stored document keeps the uploader's type).
FILE_MEDIA_TYPES = {
    "/api/jobs/{job_id}/artifact": [
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv",
        "application/octet-stream",
    ],
    "/api/documents/{document_id}/content": ["*/*"],
}
_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# What a handler raises that its shape does not tell (login: wrong password, suspended account).
EXTRA_STATUSES: dict[tuple[str, str], set[int]] = {("/api/auth/login", "post"): {401, 403}, ("/api/me", "get"): {404}}
_STATE_KEY = "honest_openapi_document"


def _handlers(app: Litestar) -> dict[tuple[str, str], tuple[HTTPRoute, HTTPRouteHandler]]:
    found: dict[tuple[str, str], tuple[HTTPRoute, HTTPRouteHandler]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                found[(route.path_format, str(method).lower())] = (route, handler)
    return found


def _guard_functions(handler: HTTPRouteHandler) -> set[str]:
    return {getattr(getattr(guard, "func", guard), "__name__", "") for guard in handler.resolve_guards()}


def _needs_session(path: str, handler: HTTPRouteHandler) -> bool:
    return not (handler.opt.get("exclude_from_auth") or any(re.match(pattern, path) for pattern in PUBLIC_PATHS))


def _body_field(handler: HTTPRouteHandler) -> Any:
    return handler.parsed_fn_signature.parameters.get("data")


def answered_statuses(
    path: str, method: str, route: HTTPRoute, handler: HTTPRouteHandler, operation: dict[str, Any]
) -> set[int]:
    """Every error status this operation can answer (see the module docstring)."""
    statuses = {400}
    session = _needs_session(path, handler)
    guards = _guard_functions(handler)
    if session:
        statuses |= {401, 403}  # 403: a suspended account, or an administrators-only operation
    if "requires_admin" in guards:
        statuses.add(403)
    if route.path_parameters:
        statuses.add(404)
    if method.upper() in _WRITE_METHODS and path.startswith("/api/"):
        statuses.add(409)
    if "if_match" in handler.parsed_fn_signature.parameters:
        statuses.add(412)
    if _body_field(handler) is not None:
        # 415: an upload is typed by its content; a JSON body declared as another media type is refused
        statuses |= {413, 415}
    if not handler.opt.get(SKIP_RATE_LIMIT_OPT):
        statuses |= {429, 503}
    if session or handler.opt.get(WRITES_PROJECT_DATA):  # the old file store's files_only guard
        statuses.add(503)
    return statuses | EXTRA_STATUSES.get((path, method), set())


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA_REF}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "required": False}}
    return response


def _body_struct(annotation: Any) -> type[msgspec.Struct] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
            return candidate
    return None


def _object_key_bounds(struct: type[msgspec.Struct]) -> dict[str, int]:
    """Field name → the most keys its object may have (msgspec `Meta(max_length=…)` on a dict, which
    Litestar leaves out of the document)."""
    bounds: dict[str, int] = {}
    info = msgspec.inspect.type_info(struct)
    for field in info.fields if isinstance(info, msgspec.inspect.StructType) else ():
        kind = field.type
        variants = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
        for variant in variants:
            if isinstance(variant, msgspec.inspect.Metadata):
                variant = variant.type
            if isinstance(variant, msgspec.inspect.DictType) and variant.max_length is not None:
                bounds[field.encode_name] = variant.max_length
    return bounds


def _describe_struct(component: dict[str, Any], struct: type[msgspec.Struct]) -> None:
    if struct.__struct_config__.forbid_unknown_fields:
        component["additionalProperties"] = False
    properties = component.get("properties", {})
    for name, most in _object_key_bounds(struct).items():
        schema = properties.get(name, {})
        for variant in [schema, *schema.get("oneOf", [])]:
            if variant.get("type") == "object":
                variant["maxProperties"] = most


def _component_name(schema: dict[str, Any]) -> str | None:
    for candidate in (schema, *schema.get("oneOf", []), *schema.get("anyOf", [])):
        ref = candidate.get("$ref") if isinstance(candidate, dict) else None
        if ref:
            return str(ref).rsplit("/", 1)[-1]
    return None


def _fix_request_body(operation: dict[str, Any], handler: HTTPRouteHandler, components: dict[str, Any]) -> None:
    body = _body_field(handler)
    request_body = operation.get("requestBody")
    if body is None or request_body is None:
        return
    if body.has_default or body.is_optional:
        request_body["required"] = False
    struct = _body_struct(body.annotation)
    if struct is None:
        return
    for media in request_body.get("content", {}).values():
        name = _component_name(media.get("schema", {}))
        if name and name in components:
            _describe_struct(components[name], struct)


def _fix_success_responses(path: str, responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if not status.startswith("2"):
            continue
        if status == "204":
            response.pop("content", None)
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() == "last-modified":
                headers[name] = dict(HTTP_DATE_HEADER)
            elif name.lower() == "content-length":
                headers[name]["schema"] = {"type": "string", "pattern": "^[0-9]+$"}
        content = response.get("content")
        if content and "" in content:
            schema = content.pop("")["schema"]
            schema.pop("contentMediaType", None)
            for media_type in FILE_MEDIA_TYPES.get(path, ["application/octet-stream"]):
                content[media_type] = {"schema": {**schema, "format": "binary"}}


def build_honest_openapi(app: Litestar) -> dict[str, Any]:
    document = copy.deepcopy(app.openapi_schema.to_schema())
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["ProblemDetails"] = PROBLEM_DETAILS_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    handlers = _handlers(app)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            found = handlers.get((path, method))
            if found is None or not isinstance(operation, dict):
                continue
            route, handler = found
            responses = operation.setdefault("responses", {})
            # Litestar documents its ValidationException as application/json; a handler's own error
            # responses are kept as statuses, every one described as the problem+json it is.
            declared = {int(status) for status in responses if status[:1] in "45" and status.isdigit()}
            for status in [s for s in responses if s[:1] in "45"]:
                responses.pop(status)
            _fix_success_responses(path, responses)
            if (path, method) in ETAG_OPERATIONS:
                for status in [s for s in responses if s.startswith("2")]:
                    responses[status].setdefault("headers", {})["ETag"] = ETAG_HEADER
            if path == "/ready":  # not ready: the same body, naming what failed
                responses["503"] = {**responses["200"], "description": "PostgreSQL or Redis does not answer"}
            for status in sorted(declared | answered_statuses(path, method, route, handler, operation)):
                responses.setdefault(str(status), _problem_response(status))
            _fix_request_body(operation, handler, schemas)
            if _needs_session(path, handler):
                operation["security"] = [{"bearer": []}, {"session_cookie": []}]
    return document


def honest_openapi(app: Litestar) -> dict[str, Any]:
    """The corrected document, built once per app."""
    document = app.state.get(_STATE_KEY, Empty)
    if document is Empty:
        document = build_honest_openapi(app)
        app.state[_STATE_KEY] = document
    return dict(document)


def _methods_by_template(app: Litestar) -> dict[str, str]:
    allowed = app.state.get("allowed_methods_by_path")
    if allowed is None:
        allowed = {}
        for route in app.routes:
            if isinstance(route, HTTPRoute):
                methods = ", ".join(sorted({str(m) for m in route.route_handler_map} | {"OPTIONS"}))
                allowed[route.path] = allowed[route.path_format] = methods
        app.state["allowed_methods_by_path"] = allowed
    return dict(allowed)


async def allow_lists_every_method(message: Message, scope: Scope) -> None:
    """`before_send` hook: an OPTIONS answer's `Allow` names every method of the path.

    Litestar's automatic OPTIONS handler keeps the methods of the route object it was first built
    with, so a path whose handlers arrive in several registrations (GET, PATCH and DELETE of
    /api/projects/{id}) answered `Allow: DELETE, OPTIONS`."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    methods = _methods_by_template(scope["app"]).get(str(scope.get("path_template", "")))
    if methods:
        headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"allow"]
        message["headers"] = [*headers, (b"allow", methods.encode())]


class HonestJsonRenderPlugin(JsonRenderPlugin):
    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, honest_openapi(request.app))


class HonestScalarRenderPlugin(ScalarRenderPlugin):
    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, honest_openapi(request.app))


class HonestSwaggerRenderPlugin(SwaggerRenderPlugin):
    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, honest_openapi(request.app))
