"""The worker process (`app worker`): three SAQ queues, one priority dispatcher, the reconciler.

Several worker processes can run side by side (on other machines too): each claims jobs atomically,
each sweeps the others' dead jobs, one reconciler pass runs at a time. SIGTERM / SIGINT stop taking
jobs, give running ones SHUTDOWN_GRACE_SECONDS to finish, then cancel them (SAQ requeues them and
their transactions roll back).
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

from app.config import Settings
from app.domain.jobs.queues import SAQ_FUNCTION, wakeup_channel
from app.domain.jobs.registry import QueueName, registered_job_types
from app.lib.logging import configure_logging
from app.server import install_extensions
from app.workers.dispatcher import PriorityDispatcher
from app.workers.housekeeping import run_housekeeping
from app.workers.reconciler import Reconciler
from app.workers.resources import WorkerResources
from app.workers.runner import run_job

logger = structlog.get_logger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
# How long the SAQ sweep waits for an aborted job to finish before requeueing it.
SWEEP_ABORT_WAIT_SECONDS = 1.0


def sweep_interval(heartbeat_seconds: int) -> int:
    """A dead worker's job is recovered within about 1.5 heartbeats (SAQ's default sweep is 60 s)."""
    return max(1, min(60, heartbeat_seconds // 2))


def build_workers(resources: WorkerResources) -> dict[QueueName, Worker[Any]]:
    settings = resources.settings
    hostname = socket.gethostname()
    workers: dict[QueueName, Worker[Any]] = {}
    for name, queue in resources.queues.queues.items():
        queue.sweep_abort_wait = SWEEP_ABORT_WAIT_SECONDS
        worker: Worker[Any] = Worker(
            queue,
            functions=[(SAQ_FUNCTION, run_job)],
            concurrency=settings.WORKER_CONCURRENCY,
            timers={"sweep": sweep_interval(settings.SAQ_JOB_HEARTBEAT), "abort": 1, "schedule": 1, "worker_info": 10},
            metadata={"host": hostname, "pid": os.getpid(), "slots_shared_by_queues": settings.WORKER_CONCURRENCY},
        )
        worker.context["resources"] = resources
        workers[name] = worker
    return workers


async def serve(settings: Settings) -> None:
    configure_logging(settings.LOG_LEVEL)
    install_extensions(settings)  # e.g. the old file store's mirror follows the jobs' commits
    resources = WorkerResources.create(settings)
    workers = build_workers(resources)
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
    background.append(asyncio.create_task(run_housekeeping(resources), name="housekeeping"))
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
    await dispatcher.drain(SHUTDOWN_GRACE_SECONDS)
    for task in background:
        task.cancel()
    for worker in workers.values():
        with contextlib.suppress(Exception):
            await worker.stop()
    await asyncio.gather(dispatching, *background, return_exceptions=True)
    await resources.close()
    logger.info("worker stopped")
