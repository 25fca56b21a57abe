"""Progress of a running job: a live `progress` event, `job:{id}:status`, and the row, each throttled.

`await progress(0.4, "Auditing positions", current_step="audit", total_steps=5)`: events go out at most
~10 per second per job (the last one of a burst is never lost when the job later reports 1.0 or
ends), the row is written at most once a second (or when the step changes). Reporting is best
effort: a failure is logged and never fails the job.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import structlog
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import BackgroundJob
from app.domain.jobs.schemas import JobStatusRecord
from app.domain.jobs.status_cache import write_progress_status
from app.lib.events import EventPublisher, job_channels, publish_to

logger = structlog.get_logger(__name__)

EVENT_INTERVAL_SECONDS = 0.1
ROW_INTERVAL_SECONDS = 1.0


class ProgressReporter:
    """The handler's third argument; call it with a fraction 0..1 and a message."""

    def __init__(
        self,
        *,
        job_id: uuid.UUID,
        project_id: uuid.UUID | None,
        user_id: uuid.UUID | None,
        job_type: str,
        record: JobStatusRecord,
        engine: AsyncEngine,
        redis: Redis,
        events: EventPublisher,
    ) -> None:
        self.job_id = job_id
        self.project_id = project_id
        self.user_id = user_id
        self.job_type = job_type
        self._record = record
        self._engine = engine
        self._redis = redis
        self._events = events
        self._started = time.monotonic()
        self._last_event = 0.0
        self._last_row = 0.0
        self._pending_event: dict[str, Any] | None = None
        self.fraction = 0.0
        self.message = ""
        self.current_step: str | None = record.job.current_step
        self.total_steps: int | None = record.job.total_steps

    async def __call__(
        self,
        fraction: float,
        message: str = "",
        *,
        current_step: str | None = None,
        total_steps: int | None = None,
    ) -> None:
        now = time.monotonic()
        step_changed = (current_step is not None and current_step != self.current_step) or (
            total_steps is not None and total_steps != self.total_steps
        )
        self.fraction = min(1.0, max(0.0, float(fraction)))
        self.message = message
        if current_step is not None:
            self.current_step = current_step
        if total_steps is not None:
            self.total_steps = total_steps
        self._pending_event = self._event_data()
        if self.fraction >= 1.0 or now - self._last_event >= EVENT_INTERVAL_SECONDS:
            await self.flush_event()
        if step_changed or now - self._last_row >= ROW_INTERVAL_SECONDS:
            self._last_row = now
            await self._write_row()

    def eta_seconds(self) -> float | None:
        if self.fraction <= 0.0:
            return None
        elapsed = time.monotonic() - self._started
        return round(elapsed / self.fraction * (1.0 - self.fraction), 1)

    def _event_data(self) -> dict[str, Any]:
        return {
            "job_id": str(self.job_id),
            "project_id": str(self.project_id) if self.project_id else None,
            "job_type": self.job_type,
            "progress": round(self.fraction, 4),
            "message": self.message,
            "current_step": self.current_step,
            "total_steps": self.total_steps,
            "eta_seconds": self.eta_seconds(),
        }

    async def flush_event(self) -> None:
        """Send the newest unsent progress (the runner calls this before the final event)."""
        data, self._pending_event = self._pending_event, None
        if data is None:
            return
        self._last_event = time.monotonic()
        job = msgspec.structs.replace(
            self._record.job,
            status="running",
            progress_fraction=self.fraction,
            current_step=self.current_step,
            total_steps=self.total_steps,
        )
        self._record = msgspec.structs.replace(self._record, job=job)
        await write_progress_status(self._redis, self._record)
        await publish_to(self._events, job_channels(self.project_id, self.user_id), "progress", data)

    async def _write_row(self) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(BackgroundJob)
                    .where(BackgroundJob.id == self.job_id, BackgroundJob.status == "running")
                    .values(
                        progress=Decimal(str(round(self.fraction * 100, 2))),
                        current_step=(self.current_step or self.message or None),
                        total_steps=self.total_steps,
                    )
                )
        except Exception as exc:  # progress is best effort; the job's own transaction decides its fate
            logger.warning("job progress write failed", job_id=str(self.job_id), error=str(exc))
