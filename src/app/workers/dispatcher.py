"""WORKER_CONCURRENCY slots per worker process, shared by the three queues, high before default before low.

Design: one SAQ `Worker` per queue keeps SAQ's upkeep (sweep of dead workers' jobs, scheduling of
delayed retries, abort, monitor stats) and its `process()` (retries, timeouts, aborts), but none of
them dequeues on its own. This dispatcher waits for a free slot, then claims the next job with one
Lua script that tries `high`, `default`, `low` in that order (so a high job queued behind many low
ones starts first), and hands it to that queue's worker. When all queues are empty it sleeps until
`submit_job` rings the doorbell (Redis pub/sub) or POLL_INTERVAL passes (retries, swept jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from redis.asyncio import Redis
from saq import Worker

from app.domain.jobs.queues import JobQueues, claimed_job_id
from app.domain.jobs.registry import QueueName

logger = structlog.get_logger(__name__)

POLL_INTERVAL_SECONDS = 0.5
ERROR_BACKOFF_SECONDS = 1.0


class PriorityDispatcher:
    def __init__(
        self,
        *,
        queues: JobQueues,
        workers: dict[QueueName, Worker[Any]],
        concurrency: int,
        wakeup_channel: str,
        poll_interval: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        self.queues = queues
        self.workers = workers
        self.concurrency = concurrency
        self.wakeup_channel = wakeup_channel
        self.poll_interval = poll_interval
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._stopping = False
        self.running: set[asyncio.Task[Any]] = set()
        self._last_error_log = 0.0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Claim and start jobs until `stop()`."""
        while not self._stopping:
            await self._slots.acquire()
            claimed = await self._claim_next()
            if claimed is None:
                self._slots.release()
                return
            queue, job_id = claimed
            task = asyncio.create_task(self._process(queue, job_id), name=f"job:{job_id}")
            self.running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.running.discard(task)
        self._slots.release()

    async def _claim_next(self) -> tuple[QueueName, str] | None:
        while not self._stopping:
            try:
                claimed = await self.queues.claim()
            except Exception as exc:  # Redis away: keep trying, the jobs wait in their queues
                self._log_error("claiming a job failed", exc)
                await self._idle(ERROR_BACKOFF_SECONDS)
                continue
            if claimed is not None:
                return claimed
            await self._idle(self.poll_interval)
        return None

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    async def _process(self, queue: QueueName, job_id: str) -> None:
        claimed_job_id.set(job_id)  # this task's own context: the worker's dequeue returns this job
        await self.workers[queue].process()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def drain(self, grace_seconds: float) -> None:
        """Let running jobs finish for `grace_seconds`, then cancel them (SAQ requeues them)."""
        if self.running:
            _, pending = await asyncio.wait(set(self.running), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=10)

    async def listen_for_wakeups(self, redis: Redis) -> None:
        """Wake the dispatcher when `submit_job` rings; reconnects after Redis errors."""
        while not self._stopping:
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe(self.wakeup_channel)
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log_error("job doorbell lost; reconnecting", exc)
                await asyncio.sleep(ERROR_BACKOFF_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _log_error(self, message: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log > 5.0:
            self._last_error_log = now
            logger.warning(message, error=f"{type(exc).__name__}: {exc}")
