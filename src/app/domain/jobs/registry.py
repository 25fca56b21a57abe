"""Job types: which function runs a `background_jobs.job_type`, on which queue, with what limits.

A domain plugs a job in with ONE line in `app.domain.jobs.job_types`:

    register_job("audit_project", "app.domain.audits.jobs:audit_project", queue="high")

The handler is `async def handler(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter)
-> dict | None`; it is given as an import path so that the API process (which only needs the queue of
a job type) never imports worker-side code. The returned dict becomes `result_data`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from app.db.models import BackgroundJob
    from app.domain.jobs.context import JobContext
    from app.domain.jobs.progress import ProgressReporter

QueueName = Literal["high", "default", "low"]
QUEUE_NAMES: tuple[QueueName, ...] = ("high", "default", "low")

JobHandler = Callable[["JobContext", "BackgroundJob", "ProgressReporter"], Awaitable[dict[str, Any] | None]]

# The queue of the job types the issues name, so `submit_job` routes them right even before their
# handlers are registered (audit and generate are interactive and urgent; maintenance can wait).
DEFAULT_QUEUES: dict[str, QueueName] = {
    "audit_project": "high",
    "generate_budget_from_drawings": "high",
    "parse_document": "default",
    "enrich": "default",
    "export": "default",
    "recalculate": "default",
    "backup": "low",
    "cleanup": "low",
}


@dataclass(frozen=True, kw_only=True)
class JobType:
    """One registered job type; `timeout` / `max_retries` of None mean the settings' defaults."""

    name: str
    handler_path: str
    queue: QueueName = "default"
    timeout: int | None = None
    max_retries: int | None = None

    def resolve(self) -> JobHandler:
        """Import the handler (worker side, on first use)."""
        module_name, _, attribute = self.handler_path.partition(":")
        handler: JobHandler = getattr(importlib.import_module(module_name), attribute)
        return handler


_JOB_TYPES: dict[str, JobType] = {}


def register_job(
    name: str,
    handler: str,
    *,
    queue: QueueName | None = None,
    timeout: int | None = None,
    max_retries: int | None = None,
) -> JobType:
    """Register (or replace) a job type; `handler` is "package.module:function"."""
    if ":" not in handler:
        raise ValueError(f"handler must look like 'package.module:function', got {handler!r}")
    job_type = JobType(
        name=name,
        handler_path=handler,
        queue=queue or DEFAULT_QUEUES.get(name, "default"),
        timeout=timeout,
        max_retries=max_retries,
    )
    _JOB_TYPES[name] = job_type
    return job_type


def job_type(name: str) -> JobType | None:
    _ensure_builtin_job_types()
    return _JOB_TYPES.get(name)


def registered_job_types() -> dict[str, JobType]:
    _ensure_builtin_job_types()
    return dict(_JOB_TYPES)


def queue_for(name: str) -> QueueName:
    """The queue a job type runs on: its registration, else the issue's default, else `default`."""
    registered = job_type(name)
    if registered is not None:
        return registered.queue
    return DEFAULT_QUEUES.get(name, "default")


_loaded = False


def _ensure_builtin_job_types() -> None:
    """Import the one-line registrations once (kept in their own module so they are easy to find)."""
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("app.domain.jobs.job_types")
