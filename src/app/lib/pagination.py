"""Limit/offset pagination as the API contract spells it: `?limit=&offset=` → `{items, total, limit, offset}`.

advanced-alchemy's own pagination provider speaks `currentPage`/`pageSize`; this one yields the
same `LimitOffset` filter under our parameter names, so services still take advanced-alchemy filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Generic, TypeVar

import msgspec
from advanced_alchemy.filters import BeforeAfter, FilterTypes, LimitOffset, StatementFilter
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter, SkipValidation

from app.lib.errors import InvalidInput, field_error
from app.lib.input_bounds import INT4_MAX

T = TypeVar("T")

# The `filters` dependency of advanced-alchemy's providers (a union of dataclasses: not re-validated).
Filters = NamedDependency[SkipValidation[list[FilterTypes]]]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


def provide_limit_offset(
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, QueryParameter(ge=0, le=INT4_MAX)] = 0,
) -> LimitOffset:
    return LimitOffset(limit=limit, offset=offset)


def limit_offset_dependency() -> dict[str, Provide]:
    """`limit_offset: LimitOffset` for a list handler."""
    return {"limit_offset": Provide(provide_limit_offset, sync_to_thread=False)}


def aware_bounds(filters: Iterable[FilterTypes]) -> list[StatementFilter]:
    """The filters, once every date bound (`created_after`, `created_before`) says its time zone.

    A moment without one would be a guess (UTC? the server's zone?), and the database cannot compare
    it with a timestamptz: a 400 naming the parameter."""
    checked: list[StatementFilter] = list(filters)
    for bound in checked:
        if not isinstance(bound, BeforeAfter):
            continue
        prefix = bound.field_name.removesuffix("_at")
        for side, moment in (("after", bound.after), ("before", bound.before)):
            if moment is not None and moment.utcoffset() is None:
                name = f"{prefix}_{side}"
                message = "must include a time zone, e.g. 2026-01-01T00:00:00Z or +01:00"
                raise InvalidInput(f"Query parameter {name} {message}.", errors=[field_error(name, message)])
    return checked
