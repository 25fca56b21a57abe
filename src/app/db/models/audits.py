"""Audit verdicts: one row per expert per position, plus the orchestrator's."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, CreatedAt, utc_now

EXPERT_ROLES = ("validator", "standards", "concrete", "cost", "structural", "orchestrator")
VERDICTS = ("GREEN", "AMBER", "RED")


class AuditResult(CreatedAt, Base):
    __tablename__ = "audit_results"
    __table_args__ = (
        # No single-column position_id index: the unique (position_id, version_id, expert_role) below
        # answers those look-ups, and an audit writes six rows per position, each once more per index.
        Index("ix_audit_results_project_id", "project_id"),
        Index("ix_audit_results_version_id", "version_id"),
        Index("ix_audit_results_expert_role", "expert_role"),
        Index("ix_audit_results_recommendation", "recommendation"),
        # A re-audit replaces the version's earlier one: at most one verdict per expert per position row
        # and audited version (versions share unchanged rows; each audit keeps its own verdicts).
        Index(
            "uq_audit_results_position_version_expert",
            "position_id",
            "version_id",
            "expert_role",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint(f"recommendation IN {VERDICTS}", name="ck_audit_results_recommendation"),
        CheckConstraint("confidence >= 0 AND confidence <= 100", name="ck_audit_results_confidence"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    version_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("budget_versions.id", ondelete="CASCADE"))
    position_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("positions.id", ondelete="CASCADE"), nullable=False)
    expert_role: Mapped[str] = mapped_column(String(50), nullable=False)
    # The verdict (GREEN / AMBER / RED); the spec names the column `recommendation`.
    status: Mapped[str] = mapped_column("recommendation", String(50), nullable=False)
    confidence: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, default=Decimal("0"), server_default=text("0")
    )
    reasoning: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    issues: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb"))
    suggestions: Mapped[list[Any]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    conflicts_with: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(PG_UUID(as_uuid=True)), nullable=False, default=list, server_default=text("'{}'::uuid[]")
    )
    resolution: Mapped[str | None] = mapped_column(Text)  # how the orchestrator settled a conflict
    resolved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )

    # What the orchestrator noted in `metadata` beside the verdict.
    @property
    def conflicting_roles(self) -> list[str]:
        return list((self.metadata_ or {}).get("conflicting_roles", []))

    @property
    def needs_review(self) -> bool:
        return bool((self.metadata_ or {}).get("needs_review", False))

    @property
    def claims(self) -> dict[str, str]:
        return dict((self.metadata_ or {}).get("claims", {}))


RESOLUTIONS = ("accepted_as_is", "fixed", "disputed")


class FindingResolution(Base):
    """An estimator's decision on a finding: one per position lineage and expert.

    It applies to every audit row of that lineage and expert whose position still has the content
    `position_id` had when it was resolved (so it survives a re-audit of an unchanged position and
    lapses when the position changes); `audit_results.resolved` mirrors it on the rows it applies to.
    Reopening deletes it.
    """

    __tablename__ = "finding_resolutions"
    __table_args__ = (
        Index("uq_finding_resolutions_lineage_expert", "project_id", "lineage_id", "expert_role", unique=True),
        CheckConstraint(f"resolution IN {RESOLUTIONS}", name="ck_finding_resolutions_resolution"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    lineage_id: Mapped[uuid.UUID] = mapped_column(PG_UUID(as_uuid=True), nullable=False)
    expert_role: Mapped[str] = mapped_column(String(50), nullable=False)
    # The position as it was judged and resolved: its content is what must stay unchanged.
    position_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("positions.id", ondelete="CASCADE"), nullable=False)
    audit_result_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("audit_results.id", ondelete="SET NULL"))
    resolution: Mapped[str] = mapped_column(String(20), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=utc_now, server_default=text("now()")
    )
