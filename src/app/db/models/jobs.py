"""Background jobs: the record of truth for work done by SAQ workers (the SAQ key is the row id)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any, Literal, get_args

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, Timestamps

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)


def _row_id_text(context: DefaultExecutionContext) -> str:
    return str(context.get_current_parameters()["id"])


class BackgroundJob(Timestamps, Base):
    __tablename__ = "background_jobs"
    __table_args__ = (
        Index("ix_background_jobs_status", "status"),
        Index("ix_background_jobs_project_id", "project_id"),
        Index("ix_background_jobs_user_id", "user_id"),
        Index("ix_background_jobs_job_type", "job_type"),
        Index("ix_background_jobs_status_priority", "status", text("priority DESC")),
        Index("ix_background_jobs_created_at", text("created_at DESC")),
        Index("ix_background_jobs_saq_job_key", "saq_job_key"),
        CheckConstraint(f"status IN {JOB_STATUSES}", name="ck_background_jobs_status"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="ck_background_jobs_progress"),
    )

    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_type: Mapped[str] = mapped_column(String(50), nullable=False)
    queue: Mapped[str] = mapped_column(String(50), nullable=False, default="default", server_default="default")
    status: Mapped[str] = mapped_column(String(50), nullable=False, default="queued", server_default="queued")
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    progress: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, default=Decimal("0"), server_default=text("0")
    )
    current_step: Mapped[str | None] = mapped_column(String(500))
    total_steps: Mapped[int | None] = mapped_column(Integer)
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    max_retries: Mapped[int] = mapped_column(Integer, nullable=False, default=3, server_default=text("3"))
    error: Mapped[str | None] = mapped_column(Text)
    # The spec's `input_data`: the job's arguments.
    payload: Mapped[dict[str, Any]] = mapped_column(
        "input_data", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    result_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The spec's `celery_task_id` under the name of its role: the key of this row's SAQ job, which
    # the queue gives every job as its row id (JobQueues.new_saq_job).
    saq_job_key: Mapped[str | None] = mapped_column(String(255), default=_row_id_text)
    artifact_path: Mapped[str | None] = mapped_column(String(1000))
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    completed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))

    @property
    def progress_fraction(self) -> float:
        """`progress` (0..100) as the API and progress events show it, 0..1."""
        return float(Decimal(self.progress or 0) / 100)

    @property
    def has_artifact(self) -> bool:
        return bool(self.artifact_path)
