"""Runs SAQ workers for the three queues in one process until SIGTERM/SIGINT.

Minimal foundation version: the jobs machinery (registry, reconciler, progress) plugs in here.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import structlog

from app.config import Settings
from app.lib.logging import configure_logging

logger = structlog.get_logger(__name__)

QUEUE_NAMES = ("high", "default", "low")


def queue_name(settings: Settings, name: str) -> str:
    """Queue names carry the namespace so several deployments / test runs can share one Redis."""
    return f"{settings.REDIS_NAMESPACE}:{name}"


async def noop(ctx: Any) -> str:
    return "ok"


async def serve(settings: Settings) -> None:
    from saq import Queue, Worker

    configure_logging(settings.LOG_LEVEL)
    queues = [Queue.from_url(settings.redis_url, name=queue_name(settings, n)) for n in QUEUE_NAMES]
    workers = [Worker(q, functions=[noop], concurrency=settings.WORKER_CONCURRENCY) for q in queues]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(w.start()) for w in workers]
    logger.info("worker started", queues=[q.name for q in queues])
    await stop.wait()
    for w in workers:
        with contextlib.suppress(Exception):
            await w.stop()
    for t in tasks:
        t.cancel()
    logger.info("worker stopped")
