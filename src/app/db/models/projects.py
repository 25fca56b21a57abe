"""Projects and their uploaded documents."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, Timestamps, utc_now

PROJECT_STATUSES = ("draft", "parsing", "enriching", "auditing", "completed", "failed")
WORKFLOWS = ("workflow_a", "workflow_b")
PARSE_STATUSES = ("pending", "parsing", "completed", "failed", "skipped")


class Project(Timestamps, Base):
    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_user_id", "user_id"),
        Index("ix_projects_status", "status"),
        Index("ix_projects_workflow", "workflow"),
        Index("ix_projects_created_at", "created_at"),
        # The project list is "own projects, newest first": one index answers it without a sort.
        Index("ix_projects_user_created", "user_id", text("created_at DESC")),
        CheckConstraint(f"status IN {PROJECT_STATUSES}", name="ck_projects_status"),
        CheckConstraint(f"workflow IN {WORKFLOWS}", name="ck_projects_workflow"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="ck_projects_progress"),
    )

    # The spec's column is `user_id`; in Python it is the owner (table-level code uses `user_id`).
    owner_id: Mapped[uuid.UUID] = mapped_column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    workflow: Mapped[str] = mapped_column(String(50), nullable=False, default="workflow_a", server_default="workflow_a")
    status: Mapped[str] = mapped_column(String(50), nullable=False, default="draft", server_default="draft")
    progress: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, default=Decimal("0"), server_default=text("0")
    )
    current_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    total_positions: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    total_cost: Mapped[Decimal] = mapped_column(
        Numeric(15, 2), nullable=False, default=Decimal("0"), server_default=text("0")
    )
    issues_count_red: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    issues_count_amber: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    issues_count_green: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    # Beside the counts above (open findings): positions whose RED / AMBER verdict an estimator resolved.
    issues_resolved_red: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    issues_resolved_amber: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    completed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )


class ProjectDocument(Timestamps, Base):
    __tablename__ = "project_documents"
    __table_args__ = (
        Index("ix_project_documents_project_id", "project_id"),
        Index("ix_project_documents_content_hash", "content_hash"),
        Index("ix_project_documents_parse_status", "parse_status"),
        Index("ix_project_documents_file_type", "file_type"),
        # The spec's full-text index, plus a 'simple' one: documents are Czech and the English
        # stemmer mangles Czech words, 'simple' keeps them whole (diacritics included).
        Index(
            "ix_project_documents_fts_english",
            text("to_tsvector('english', indexed_content)"),
            postgresql_using="gin",
        ),
        Index(
            "ix_project_documents_fts_simple",
            text("to_tsvector('simple', indexed_content)"),
            postgresql_using="gin",
        ),
        CheckConstraint(f"parse_status IN {PARSE_STATUSES}", name="ck_project_documents_parse_status"),
        CheckConstraint("file_size >= 0", name="ck_project_documents_file_size"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(500), nullable=False)  # cleaned: the base name, no path
    original_filename: Mapped[str | None] = mapped_column(String(500))  # as the client sent it
    file_type: Mapped[str] = mapped_column(String(50), nullable=False)
    mime_type: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_path: Mapped[str] = mapped_column(String(1000), nullable=False)
    parse_status: Mapped[str] = mapped_column(String(50), nullable=False, default="pending", server_default="pending")
    parse_error: Mapped[str | None] = mapped_column(Text)
    parsed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    extracted_data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    indexed_content: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    uploaded_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=utc_now, server_default=text("now()")
    )
