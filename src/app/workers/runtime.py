"""The worker process (`app worker`): three SAQ queues, one priority dispatcher, the reconciler.

Several worker processes can run side by side (on other machines too): SAQ's dequeue hands each job
to one of them, each sweeps the others' dead jobs, one reconciler pass runs at a time, and the cron
jobs (app.workers.cron) run once per schedule. SIGTERM / SIGINT stop taking jobs, give running ones
WORKER_SHUTDOWN_GRACE seconds to finish, then hand them back (SAQ requeues them at once and their
transactions roll back) before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from typing import Any

import structlog
from saq import Worker

from app.asgi import freeze_startup_heap
from app.config import Settings
from app.domain.jobs.queues import SAQ_FUNCTION, wakeup_channel
from app.domain.jobs.registry import QueueName, load_job_modules, registered_job_types
from app.lib import metrics
from app.lib.logging import configure_logging
from app.server import install_extensions
from app.workers.cron import cron_jobs
from app.workers.dispatcher import DEQUEUE_TIMEOUT_SECONDS, PriorityDispatcher, mark_dequeued
from app.workers.reconciler import Reconciler
from app.workers.resources import WorkerResources
from app.workers.runner import SAQ_ABORT_CHECK_SECONDS, run_job

logger = structlog.get_logger(__name__)


def sweep_interval(heartbeat_seconds: int) -> int:
    """How often SAQ looks for jobs whose heartbeat went stale (a dead worker's): a third of a heartbeat,
    so a job is taken again about heartbeat + sweep + SAQ's 5 s abort wait after its worker died."""
    return max(1, min(60, heartbeat_seconds // 3))


def build_workers(resources: WorkerResources) -> dict[QueueName, Worker[Any]]:
    """One SAQ worker per queue, configured through SAQ's public options; the cron jobs live on `low`."""
    settings = resources.settings
    hostname = socket.gethostname()
    workers: dict[QueueName, Worker[Any]] = {}
    for name, queue in resources.queues.queues.items():
        worker: Worker[Any] = Worker(
            queue,
            functions=[(SAQ_FUNCTION, run_job)],
            cron_jobs=cron_jobs() if name == "low" else None,
            concurrency=settings.WORKER_CONCURRENCY,
            before_process=mark_dequeued,
            dequeue_timeout=DEQUEUE_TIMEOUT_SECONDS,
            timers={
                "sweep": sweep_interval(settings.SAQ_JOB_HEARTBEAT),
                "abort": SAQ_ABORT_CHECK_SECONDS,
                "schedule": 1,
                "worker_info": 10,
            },
            metadata={"host": hostname, "pid": os.getpid(), "slots_shared_by_queues": settings.WORKER_CONCURRENCY},
        )
        worker.context["resources"] = resources
        workers[name] = worker
    return workers


def preload_job_handlers() -> None:
    """Import every handler now, before the start-up heap is frozen (app.asgi.freeze_startup_heap).

    Imported on first use instead, the handlers' modules (the experts, the parsers, the catalogue
    code) stayed in the collector's reach and every full collection a job's allocations set off walked
    them again (collector time during a 2,000-position audit: 87 → 64 ms). A handler that cannot be
    imported fails on its job's row (app.workers.runner), not here.
    """
    for registered in registered_job_types().values():
        try:
            registered.resolve()
        except (ImportError, AttributeError) as exc:
            logger.warning("job handler cannot be imported", job_type=registered.name, error=str(exc))


async def serve(settings: Settings) -> None:
    configure_logging(settings.LOG_LEVEL)
    install_extensions(settings)  # e.g. the old file store's mirror follows the jobs' commits
    load_job_modules(settings.JOB_MODULES.split(","))
    resources = WorkerResources.create(settings)
    workers = build_workers(resources)
    preload_job_handlers()
    freeze_startup_heap()
    dispatcher = PriorityDispatcher(
        queues=resources.queues,
        workers=workers,
        concurrency=settings.WORKER_CONCURRENCY,
        wakeup_channel=wakeup_channel(settings),
    )
    reconciler = Reconciler(resources, worker_id=f"{socket.gethostname()}:{os.getpid()}")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    background: list[asyncio.Task[Any]] = []
    for worker in workers.values():
        worker.tasks.update(await worker.upkeep())
    background.append(asyncio.create_task(dispatcher.listen_for_wakeups(resources.redis), name="doorbell"))
    background.append(asyncio.create_task(reconciler.run_forever(), name="reconciler"))
    background.append(asyncio.create_task(metrics.flush_forever(), name="metrics-flush"))  # cache counts
    dispatching = asyncio.create_task(dispatcher.run(), name="dispatcher")
    logger.info(
        "worker started",
        queues=[q.name for q in resources.queues.queues.values()],
        concurrency=settings.WORKER_CONCURRENCY,
        job_types=sorted(registered_job_types()),
        pid=os.getpid(),
    )

    await stop.wait()
    logger.info("worker stopping", running=len(dispatcher.running))
    dispatcher.stop()
    dispatching.cancel()
    await dispatcher.drain(settings.WORKER_SHUTDOWN_GRACE)
    for task in background:
        task.cancel()
    for worker in workers.values():
        with contextlib.suppress(Exception):
            await worker.stop()
    await asyncio.gather(dispatching, *background, return_exceptions=True)
    await resources.close()
    metrics.flush_counts()
    logger.info("worker stopped")
