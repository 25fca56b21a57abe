"""Versioned budgets: every change makes a new, complete, immutable version of the positions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, CreatedAt, Timestamps

TRIGGER_TYPES = (
    "initial",
    "document_added",
    "user_edit",
    "audit",
    "enrichment",
    "chat_command",
    "import",
    "generated",
    "recalculation",
)
POSITION_STATUSES = ("GREEN", "AMBER", "RED")
POSITION_SOURCES = ("uploaded", "generated", "manual", "migrated")
# `positions.valid_to` of a row still in the latest version (versions are numbered from 1, INTEGER).
OPEN_VERSION = 2_147_483_647


class BudgetVersion(CreatedAt, Base):
    __tablename__ = "budget_versions"
    __table_args__ = (
        UniqueConstraint("project_id", "version", name="uq_budget_versions_project_version"),
        Index("ix_budget_versions_project_version_desc", "project_id", text("version DESC")),
        Index("ix_budget_versions_trigger_type", "trigger_type"),
        CheckConstraint("version >= 1", name="ck_budget_versions_version"),
        CheckConstraint(f"trigger_type IN {TRIGGER_TYPES}", name="ck_budget_versions_trigger_type"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    trigger_type: Mapped[str] = mapped_column(String(50), nullable=False)
    trigger_details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    total_positions: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    total_cost: Mapped[Decimal] = mapped_column(
        Numeric(15, 2), nullable=False, default=Decimal("0"), server_default=text("0")
    )
    delta_cost: Mapped[Decimal] = mapped_column(
        Numeric(15, 2), nullable=False, default=Decimal("0"), server_default=text("0")
    )
    changes: Mapped[dict[str, Any]] = mapped_column(
        JSONB,
        nullable=False,
        default=lambda: {"added": [], "removed": [], "modified": []},
        server_default=text("""'{"added": [], "removed": [], "modified": []}'::jsonb"""),
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Totals by object and by category, and the audit's counts (see budgets.summary).
    summary: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )


class Position(Timestamps, Base):
    """A position's state in the versions `valid_from <= version < valid_to` of its project.

    An edit closes the changed rows (valid_to = the new version) and inserts their new state; unchanged
    rows are shared by every version they belong to, so an edit writes what changed, not the budget.
    `version_id` is the version that wrote the row. Read a version's rows with
    `app.domain.budgets.queries.in_version`, never by `version_id`.
    """

    __tablename__ = "positions"
    __table_args__ = (
        # No single-column project_id / version_id indexes: (project_id, status) and (version_id, lineage_id)
        # answer those look-ups, and every version writes each position once more per index.
        Index("ix_positions_code", "code"),
        Index("ix_positions_status", "status"),
        Index("ix_positions_project_status", "project_id", "status"),
        Index("ix_positions_project_category", "project_id", "category"),
        Index("ix_positions_category", "category"),
        # lineage_id identifies "the same position" across versions (diffs, PATCH by a stable id).
        Index("uq_positions_version_lineage", "version_id", "lineage_id", unique=True),
        Index("ix_positions_source_document_id", "source_document_id"),
        # A version's rows (project_id, valid_to > n, valid_from <= n) and a lineage's row in a version.
        Index("ix_positions_project_validity", "project_id", "valid_to", "valid_from"),
        # Unique: a lineage's rows cover disjoint ranges, so they end at different versions (one open row).
        Index("uq_positions_lineage_valid_to", "lineage_id", "valid_to", unique=True),
        CheckConstraint("valid_from < valid_to", name="ck_positions_validity"),
        CheckConstraint(f"status IS NULL OR status IN {POSITION_STATUSES}", name="ck_positions_status"),
        CheckConstraint(f"source IN {POSITION_SOURCES}", name="ck_positions_source"),
        CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 100)", name="ck_positions_confidence"
        ),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("budget_versions.id", ondelete="CASCADE"), nullable=False)
    # Not given (file-store import, plain SQL): a trigger takes version_id's number, and the version is
    # written whole (the project's open rows of earlier versions end there).
    valid_from: Mapped[int] = mapped_column(Integer, nullable=False, server_default=FetchedValue())
    valid_to: Mapped[int] = mapped_column(
        Integer, nullable=False, default=OPEN_VERSION, server_default=text(str(OPEN_VERSION))
    )
    lineage_id: Mapped[uuid.UUID] = mapped_column(
        PG_UUID(as_uuid=True), nullable=False, default=uuid.uuid4, server_default=text("gen_random_uuid()")
    )
    position_number: Mapped[str | None] = mapped_column(String(50))
    code: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str | None] = mapped_column(String(255))
    unit: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(15, 4))
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    total_price: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    status: Mapped[str | None] = mapped_column(String(50))
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="manual", server_default="manual")
    source_document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("project_documents.id", ondelete="SET NULL")
    )
    source_line: Mapped[int | None] = mapped_column(Integer)
    enrichment: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    notes: Mapped[str | None] = mapped_column(Text)
