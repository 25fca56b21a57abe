"""Job bodies on the wire (msgspec): the job view, the 202 answer, and the cached status record."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec

from app.lib.schemas import ModelView


class JobRead(ModelView, kw_only=True):
    """A background job as GET /api/jobs/{id} shows it; `progress` runs 0..1 like progress events."""

    id: uuid.UUID
    job_type: str
    status: str
    progress_fraction: float = msgspec.field(name="progress")
    current_step: str | None
    total_steps: int | None
    retry_count: int
    result_data: dict[str, Any] | None = msgspec.field(name="result")
    error: str | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    project_id: uuid.UUID | None = None
    queue: str = "default"
    max_retries: int = 3
    has_artifact: bool = False


class JobStatusRecord(msgspec.Struct, kw_only=True):
    """What `job:{id}:status` holds in Redis: the view plus its owner, so polling needs no SQL."""

    job: JobRead
    user_id: uuid.UUID | None
    project_owner_id: uuid.UUID | None = None


class JobAccepted(msgspec.Struct, kw_only=True):
    """The 202 answer of an endpoint that started a job."""

    job_id: uuid.UUID
    status: str
