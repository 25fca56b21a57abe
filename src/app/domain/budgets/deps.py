"""Dependency providers of the budgets domain: services and the positions list filters."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.extensions.litestar.providers import FilterConfig, create_service_dependencies
from advanced_alchemy.utils.dependencies import ChoiceField

from app.db.models.budgets import POSITION_STATUSES
from app.domain.budgets.services import BudgetService, PositionService
from app.lib.pagination import limit_offset_dependency

_QUERY_NAMES = {"search_string": "q", "search_ignore_case": "q_ignore_case"}


def _query_name(name: str) -> str:
    """API.md names: `status`, `category`, `code`, `q`."""
    return _QUERY_NAMES.get(name, name)


POSITION_LIST_FILTERS: FilterConfig = {
    "search": {"description", "code"},
    "search_ignore_case": True,
    "search_escape_wildcards": True,
    "choice_fields": [ChoiceField("status", POSITION_STATUSES), "category", "code"],
    "alias_generator": _query_name,
}


def budget_dependencies() -> dict[str, Any]:
    """`budgets_service`, `positions_service`, `filters` (status, category, code, q), `limit_offset`."""
    return {
        **create_service_dependencies(BudgetService, key="budgets_service"),
        **create_service_dependencies(PositionService, key="positions_service", filters=POSITION_LIST_FILTERS),
        **limit_offset_dependency(),
    }
