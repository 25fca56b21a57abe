"""Limit/offset pagination as the API contract spells it: `?limit=&offset=` → `{items, total, limit, offset}`.

advanced-alchemy's own pagination provider speaks `currentPage`/`pageSize`; this one yields the
same `LimitOffset` filter under our parameter names, so services still take advanced-alchemy filters.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec
from advanced_alchemy.filters import FilterTypes, LimitOffset
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter, SkipValidation

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
