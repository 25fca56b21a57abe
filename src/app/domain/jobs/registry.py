"""Job types: which function runs a `background_jobs.job_type`, on which queue, with what limits.

Adding a job type is ONE line in JOB_TYPES below:

    JobType(name="audit_project", handler_path="app.domain.audits.jobs:audit_project", queue="high"),

The handler is `async def handler(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter)
-> dict | None`; it is given as an import path so that the API process (which only needs the queue of
a job type) never imports worker-side code. The returned dict becomes `result_data`.

Job types that are not part of the service (the tests' slow and failing jobs) live in modules named
by the JOB_MODULES setting; such a module calls `register_job(...)` when it is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from app.db.models import BackgroundJob
    from app.domain.jobs.context import JobContext
    from app.domain.jobs.progress import ProgressReporter

QueueName = Literal["high", "default", "low"]
QUEUE_NAMES: tuple[QueueName, ...] = ("high", "default", "low")

JobHandler = Callable[["JobContext", "BackgroundJob", "ProgressReporter"], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, kw_only=True)
class JobType:
    """One job type; `timeout` / `max_retries` of None mean the settings' defaults."""

    name: str
    handler_path: str
    queue: QueueName = "default"
    timeout: int | None = None
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if ":" not in self.handler_path:
            raise ValueError(f"handler must look like 'package.module:function', got {self.handler_path!r}")

    def resolve(self) -> JobHandler:
        """Import the handler (worker side, on first use)."""
        module_name, _, attribute = self.handler_path.partition(":")
        handler: JobHandler = getattr(importlib.import_module(module_name), attribute)
        return handler


# Every job type of the service. Audit and generation are interactive and urgent; maintenance can wait.
_JOB_TYPES: dict[str, JobType] = {
    job.name: job
    for job in (
        JobType(name="recalculate", handler_path="app.domain.jobs.recalculate:recalculate_project"),
        JobType(name="parse_document", handler_path="app.domain.documents.jobs:parse_document_job"),
        JobType(name="export", handler_path="app.domain.exports.jobs:export_job"),
        JobType(name="enrich", handler_path="app.domain.kb.jobs:enrich_project"),
        JobType(name="audit_project", handler_path="app.domain.audits.jobs:audit_project", queue="high"),
        JobType(
            name="generate_budget_from_drawings",
            handler_path="app.domain.generation.jobs:generate_budget_job",
            queue="high",
        ),
        JobType(name="backup", handler_path="app.domain.system.backup:backup_database", queue="low", timeout=3600),
    )
}


def register_job(
    name: str,
    handler: str,
    *,
    queue: QueueName = "default",
    timeout: int | None = None,
    max_retries: int | None = None,
) -> JobType:
    """Register (or replace) a job type from outside this module; `handler` is "package.module:function"."""
    job = JobType(name=name, handler_path=handler, queue=queue, timeout=timeout, max_retries=max_retries)
    _JOB_TYPES[name] = job
    return job


def load_job_modules(modules: Iterable[str]) -> None:
    """Import modules that register extra job types (the JOB_MODULES setting)."""
    for module in modules:
        if module.strip():
            importlib.import_module(module.strip())


def job_type(name: str) -> JobType | None:
    return _JOB_TYPES.get(name)


def registered_job_types() -> dict[str, JobType]:
    return dict(_JOB_TYPES)


def queue_for(name: str) -> QueueName:
    """The queue a job type runs on (`default` for a type nobody registered: it fails visibly on its row)."""
    registered = _JOB_TYPES.get(name)
    return registered.queue if registered is not None else "default"
