"""Request and response bodies of the projects API."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from app.lib.input_bounds import Metadata, check_metadata
from app.lib.schemas import ModelView

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


class ProjectRead(ModelView, kw_only=True):
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
    metadata_: dict[str, Any] = msgspec.field(name="metadata")
    completed_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    # Beside the open counts above: RED / AMBER verdicts an estimator resolved.
    issues_resolved_red: int = 0
    issues_resolved_amber: int = 0

    def __post_init__(self) -> None:
        self.progress = self.progress.quantize(CENT)
        self.total_cost = self.total_cost.quantize(CENT)
