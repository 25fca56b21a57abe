"""Request and response bodies of the projects API."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from app.db.models import Project
from app.lib.input_bounds import Metadata, check_metadata

ProjectStatus = Literal["draft", "parsing", "enriching", "auditing", "completed", "failed"]
CENT = Decimal("0.01")
Workflow = Literal["workflow_a", "workflow_b"]
ProjectName = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Description = Annotated[str, msgspec.Meta(max_length=20_000)]


class ProjectCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: ProjectName
    workflow: Workflow
    description: Description | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_metadata(self.metadata)


class ProjectUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """PATCH: an absent field stays as it is; `description: null` clears it."""

    name: ProjectName | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    status: ProjectStatus | msgspec.UnsetType = msgspec.UNSET
    metadata: Metadata | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_metadata(self.metadata)


class ProjectRead(msgspec.Struct, kw_only=True):
    """A project with the aggregates of its latest budget version (also the cached project state)."""

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    description: str | None
    workflow: str
    status: str
    progress: Decimal
    current_version: int
    total_positions: int
    total_cost: Decimal
    issues_count_red: int
    issues_count_amber: int
    issues_count_green: int
    metadata: dict[str, Any]
    completed_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    # Beside the open counts above: RED / AMBER verdicts an estimator resolved.
    issues_resolved_red: int = 0
    issues_resolved_amber: int = 0

    @classmethod
    def from_model(cls, project: Project) -> ProjectRead:
        return cls(
            id=project.id,
            owner_id=project.owner_id,
            name=project.name,
            description=project.description,
            workflow=project.workflow,
            status=project.status,
            progress=Decimal(project.progress).quantize(CENT),
            current_version=project.current_version,
            total_positions=project.total_positions,
            total_cost=Decimal(project.total_cost).quantize(CENT),
            issues_count_red=project.issues_count_red,
            issues_count_amber=project.issues_count_amber,
            issues_count_green=project.issues_count_green,
            metadata=dict(project.metadata_ or {}),
            completed_at=project.completed_at,
            created_at=project.created_at,
            updated_at=project.updated_at,
            issues_resolved_red=project.issues_resolved_red,
            issues_resolved_amber=project.issues_resolved_amber,
        )
