"""Domain errors raised by services, and their one mapping to RFC 9457 problem details."""

from __future__ import annotations

import re
from typing import Any

import structlog
from advanced_alchemy.exceptions import (
    DuplicateKeyError,
    IntegrityError,
    NotFoundError,
    RepositoryError,
)
from asyncpg.exceptions import DataError as PostgresDataError
from asyncpg.exceptions import InterfaceError as AsyncpgInterfaceError
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException
from sqlalchemy.exc import DataError, DBAPIError, StatementError

logger = structlog.get_logger(__name__)


class ApplicationError(Exception):
    """A rule a request broke; `status` is the HTTP answer, `errors` name the fields at fault."""

    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    status, title = 400, "Invalid input"


class NotAuthenticated(ApplicationError):
    status, title = 401, "Not authenticated"


class Forbidden(ApplicationError):
    status, title = 403, "Forbidden"


class NotFound(ApplicationError):
    status, title = 404, "Not found"


class Conflict(ApplicationError):
    status, title = 409, "Conflict"


class PreconditionFailed(ApplicationError):
    status, title = 412, "Precondition failed"


class PayloadTooLarge(ApplicationError):
    status, title = 413, "Payload too large"


class UnsupportedMediaType(ApplicationError):
    status, title = 415, "Unsupported media type"


class TooManyRequests(ApplicationError):
    status, title = 429, "Too many requests"


class ServiceUnavailable(ApplicationError):
    status, title = 503, "Service unavailable"


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _problem(status: int, title: str, detail: str, **extra: Any) -> ProblemDetailsException:
    headers = extra.pop("headers", None)
    return ProblemDetailsException(
        status_code=status,
        title=title,
        detail=detail,
        type_=f"https://concrete-agent.dev/problems/{title.lower().replace(' ', '-')}",
        extra={k: v for k, v in extra.items() if v not in (None, [], {})} or None,
        headers=headers,
    )


def _application_error(exc: ApplicationError) -> ProblemDetailsException:
    return _problem(exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers, **exc.extra)


_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _field_sent(item: dict[str, Any]) -> str:
    """The name the client used for the value Litestar refused (it reports its own argument names).

    advanced-alchemy's choice filters (`?status=RED`) take the query value as the argument `status_choices`,
    and a body missing a field is reported as `data` with the field only in the message (a multipart
    upload without its `file` part)."""
    field = str(item.get("key") or item.get("source") or "body")
    if item.get("source") == "query" and field.endswith("_choices"):
        return field.removesuffix("_choices")
    if field == "data" and (missing := _MISSING_FIELD.search(str(item.get("message", "")))):
        return missing.group(1)
    return field


def _validation_error(exc: ValidationException) -> ProblemDetailsException:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(field_error(_field_sent(item), str(item.get("message", "invalid value"))))
    return _problem(400, "Invalid input", str(exc.detail), errors=errors)


def _http_exception(exc: HTTPException) -> ProblemDetailsException:
    title = {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Payload too large",
        415: "Unsupported media type",
        429: "Too many requests",
    }.get(exc.status_code, "Error")
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    return _problem(exc.status_code, title, str(exc.detail), headers=exc.headers, **extra)


def _undecodable_text(exc: UnicodeDecodeError) -> ProblemDetailsException:
    """Text of the request that is not UTF-8. Litestar decodes a multipart part without a filename
    (an empty `filename=""`, or only an RFC 5987 `filename*=`) as UTF-8 text before any handler runs,
    and let the decode error through as a 500; a cp1250 CSV sent so is the client's mistake."""
    logger.info("request text is not utf-8", reason=str(exc))
    message = (
        f"is not UTF-8 text ({exc.reason} at byte {exc.start}); a multipart part without a filename is "
        "read as text: send a file with its filename"
    )
    return _problem(
        400, "Invalid input", "The request holds text that is not UTF-8.", errors=[field_error("body", message)]
    )


def refused_value(exc: BaseException) -> bool:
    """Whether PostgreSQL (or asyncpg, binding it) refused a value: out of range, NUL, bad encoding.

    SQLAlchemy reports it as DataError or, for asyncpg's own bind checks, as a plain DBAPIError;
    advanced-alchemy wraps either as its IntegrityError. The cause chain tells them apart."""
    seen: BaseException | None = exc
    while seen is not None:
        client_side = isinstance(seen, AsyncpgInterfaceError) and isinstance(seen, ValueError)
        # A bind parameter SQLAlchemy could not process (a naive or out-of-range datetime in a filter).
        unbindable = (
            isinstance(seen, StatementError)
            and not isinstance(seen, DBAPIError)
            and isinstance(seen.orig, TypeError | ValueError | OverflowError)
        )
        if isinstance(seen, DataError | PostgresDataError) or client_side or unbindable:
            return True
        seen = seen.__cause__
    return False


def _data_error(exc: Exception) -> ProblemDetailsException:
    """A value the database refused is the request's fault, never a conflict (and never a 500).

    The edge bounds (app.lib.input_bounds, the schemas) name the field; this is the backstop."""
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    logger.warning("database refused a value", error=f"{type(root).__name__}: {str(root)[:300]}")
    return _problem(
        400,
        "Invalid input",
        "A value of the request cannot be stored or compared (out of range or an unsupported character).",
        errors=[field_error("request", "holds a value the database cannot take")],
    )


def _database_error(exc: StatementError) -> ProblemDetailsException:
    return _data_error(exc) if refused_value(exc) else _unexpected(exc)


def _repository_error(exc: RepositoryError) -> ProblemDetailsException:
    if refused_value(exc):
        return _data_error(exc)
    if isinstance(exc, NotFoundError):
        return _problem(404, "Not found", "The resource does not exist.")
    if isinstance(exc, (DuplicateKeyError, IntegrityError)):
        return _problem(409, "Conflict", "The change conflicts with existing data.")
    logger.error("repository error", exc_info=exc)
    return _problem(500, "Internal server error", "The request could not be completed.")


def _unexpected(exc: Exception) -> ProblemDetailsException:
    logger.error("unhandled error", exc_info=exc)
    return _problem(500, "Internal server error", "The request could not be completed.")


def problem_details_config() -> ProblemDetailsConfig:
    return ProblemDetailsConfig(
        enable_for_all_http_exceptions=False,
        exception_to_problem_detail_map={
            ApplicationError: _application_error,
            ValidationException: _validation_error,
            HTTPException: _http_exception,
            RepositoryError: _repository_error,
            StatementError: _database_error,
            UnicodeDecodeError: _undecodable_text,
            Exception: _unexpected,
        },
    )


def request_id(request: Request[Any, Any, Any]) -> str | None:
    return request.scope.get("state", {}).get("request_id")
