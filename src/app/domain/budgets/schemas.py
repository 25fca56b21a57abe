"""Request and response bodies of the budgets API (versions and positions)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from app.lib.input_bounds import Metadata, check_metadata
from app.lib.schemas import ModelView

CENT = Decimal("0.01")
PositionStatus = Literal["GREEN", "AMBER", "RED"]
ShortText = Annotated[str, msgspec.Meta(max_length=50)]
CodeText = Annotated[str, msgspec.Meta(max_length=100)]
UnitText = Annotated[str, msgspec.Meta(max_length=20)]
CategoryText = Annotated[str, msgspec.Meta(max_length=255)]
DescriptionText = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
NotesText = Annotated[str, msgspec.Meta(max_length=20_000)]
Confidence = Decimal  # 0..100, checked with the other amounts (msgspec has no bounds on Decimal)


class PositionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new position; total_price defaults to quantity × unit_price rounded half-up to 0.01."""

    description: DescriptionText
    code: CodeText | None = None
    position_number: ShortText | None = None
    category: CategoryText | None = None
    unit: UnitText | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    total_price: Decimal | None = None
    status: PositionStatus | None = None
    confidence: Confidence | None = None
    notes: NotesText | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_metadata(self.metadata)


class PositionUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """PATCH: an absent field stays; null clears it. A new quantity or unit price recomputes the
    line total unless total_price is sent too."""

    description: DescriptionText | msgspec.UnsetType = msgspec.UNSET
    code: CodeText | msgspec.UnsetType | None = msgspec.UNSET
    position_number: ShortText | msgspec.UnsetType | None = msgspec.UNSET
    category: CategoryText | msgspec.UnsetType | None = msgspec.UNSET
    unit: UnitText | msgspec.UnsetType | None = msgspec.UNSET
    quantity: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    unit_price: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    total_price: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    status: PositionStatus | msgspec.UnsetType | None = msgspec.UNSET
    confidence: Confidence | msgspec.UnsetType | None = msgspec.UNSET
    notes: NotesText | msgspec.UnsetType | None = msgspec.UNSET
    metadata: Metadata | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_metadata(self.metadata)

    def changed_fields(self) -> dict[str, Any]:
        """The fields sent, by model attribute name."""
        values = {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if not isinstance(getattr(self, name), msgspec.UnsetType)
        }
        if "metadata" in values:
            values["metadata_"] = values.pop("metadata")
        return values


class PositionRead(ModelView, kw_only=True):
    id: uuid.UUID
    lineage_id: uuid.UUID
    version_id: uuid.UUID
    position_number: str | None
    code: str | None
    description: str
    category: str | None
    unit: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    total_price: Decimal | None
    status: str | None
    confidence: Decimal | None
    source: str
    source_document_id: uuid.UUID | None
    source_line: int | None
    enrichment: dict[str, Any]
    metadata_: dict[str, Any] = msgspec.field(name="metadata")
    notes: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class VersionSummary(ModelView, kw_only=True):
    id: uuid.UUID
    project_id: uuid.UUID
    version: int
    trigger_type: str
    trigger_details: dict[str, Any]
    total_positions: int
    total_cost: Decimal
    delta_cost: Decimal
    created_by: uuid.UUID | None
    created_at: datetime.datetime

    def __post_init__(self) -> None:
        self.total_cost = self.total_cost.quantize(CENT)
        self.delta_cost = self.delta_cost.quantize(CENT)


class VersionChanges(msgspec.Struct, kw_only=True):
    """added/removed: {lineage_id, position_id, code, description, total_price};
    modified: {lineage_id, position_id, previous_position_id, code, description, fields: {name: {before, after}}}."""

    added: list[dict[str, Any]] = msgspec.field(default_factory=list)
    removed: list[dict[str, Any]] = msgspec.field(default_factory=list)
    modified: list[dict[str, Any]] = msgspec.field(default_factory=list)


class VersionDetail(VersionSummary, kw_only=True):
    changes: VersionChanges


class PositionChangeResult(msgspec.Struct, kw_only=True):
    """The answer to a position edit: the position as it is in the new version (null after a
    delete) and the version the edit created."""

    position: PositionRead | None
    version: VersionSummary
