"""Dependency providers of the projects domain: the service and the list filters of the contract."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.extensions.litestar.providers import FilterConfig, create_service_dependencies
from advanced_alchemy.utils.dependencies import ChoiceField

from app.db.models.projects import PROJECT_STATUSES, WORKFLOWS
from app.domain.projects.services import ProjectService
from app.lib.pagination import limit_offset_dependency

_QUERY_NAMES = {"search_string": "q", "search_ignore_case": "q_ignore_case"}


def _query_name(name: str) -> str:
    """API.md names: `q`, `status`, `workflow`, `created_after`, `created_before`."""
    return _QUERY_NAMES.get(name, name)


PROJECT_LIST_FILTERS: FilterConfig = {
    "created_at": True,
    "search": {"name", "description"},
    "search_ignore_case": True,
    "search_escape_wildcards": True,
    "choice_fields": [ChoiceField("status", PROJECT_STATUSES), ChoiceField("workflow", WORKFLOWS)],
    "alias_generator": _query_name,
}


def project_dependencies() -> dict[str, Any]:
    """`projects_service`, `filters` (status, workflow, q, created_after/before) and `limit_offset`."""
    return {
        **create_service_dependencies(ProjectService, key="projects_service", filters=PROJECT_LIST_FILTERS),
        **limit_offset_dependency(),
    }
