"""Job bodies on the wire (msgspec): the job view, the 202 answer, and the cached status record."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import msgspec

from app.db.models import BackgroundJob


class JobRead(msgspec.Struct, kw_only=True):
    """A background job as GET /api/jobs/{id} shows it; `progress` runs 0..1 like progress events."""

    id: uuid.UUID
    job_type: str
    status: str
    progress: float
    current_step: str | None
    total_steps: int | None
    retry_count: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    project_id: uuid.UUID | None = None
    queue: str = "default"
    max_retries: int = 3
    has_artifact: bool = False

    @classmethod
    def from_model(cls, row: BackgroundJob) -> JobRead:
        return cls(
            id=row.id,
            job_type=row.job_type,
            status=row.status,
            progress=float(Decimal(row.progress or 0) / 100),
            current_step=row.current_step,
            total_steps=row.total_steps,
            retry_count=row.retry_count,
            result=row.result_data,
            error=row.error,
            created_at=row.created_at,
            started_at=row.started_at,
            completed_at=row.completed_at,
            project_id=row.project_id,
            queue=row.queue,
            max_retries=row.max_retries,
            has_artifact=bool(row.artifact_path),
        )


class JobStatusRecord(msgspec.Struct, kw_only=True):
    """What `job:{id}:status` holds in Redis: the view plus its owner, so polling needs no SQL."""

    job: JobRead
    user_id: uuid.UUID | None
    project_owner_id: uuid.UUID | None = None


class JobAccepted(msgspec.Struct, kw_only=True):
    """The 202 answer of an endpoint that started a job."""

    job_id: uuid.UUID
    status: str
