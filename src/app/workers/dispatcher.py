"""WORKER_CONCURRENCY slots per worker process, shared by the three queues, high before default before low.

One SAQ `Worker` per queue keeps SAQ's upkeep (sweep of dead workers' jobs, scheduling of delayed
retries and cron jobs, aborts, monitor stats) and runs jobs with its own public `process()` (dequeue,
retries, timeouts, aborts). None of them dequeues on its own: when a slot is free, this dispatcher
asks which queue has a waiting job first (`high`, then `default`, then `low`) and lets that queue's
worker process one job, so a high job queued behind many low ones starts next. When all queues are
empty it sleeps until `submit_job` rings the doorbell (Redis pub/sub) or POLL_INTERVAL passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from typing import Any

import structlog
from redis.asyncio import Redis
from saq import Worker

from app.domain.jobs.queues import JobQueues
from app.domain.jobs.registry import QueueName

logger = structlog.get_logger(__name__)

POLL_INTERVAL_SECONDS = 0.5
ERROR_BACKOFF_SECONDS = 1.0
# How long a worker's `process()` waits in SAQ's dequeue when another process took the job first.
DEQUEUE_TIMEOUT_SECONDS = 1.0

# Set in a dispatched task's context; SAQ's `before_process` hook sets it once the job is dequeued.
_dequeued: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar("dequeued", default=None)


async def mark_dequeued(ctx: dict[str, Any]) -> None:
    """SAQ `before_process` hook: this task holds its job now, so the dispatcher may look for the next."""
    event = _dequeued.get()
    if event is not None:
        event.set()


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
        """Start jobs until `stop()`: one slot, one queue with a waiting job, one SAQ `process()`."""
        while not self._stopping:
            await self._slots.acquire()
            queue = await self._next_queue()
            if queue is None:
                self._slots.release()
                return
            dequeued = asyncio.Event()
            task = asyncio.create_task(self._process(queue, dequeued), name=f"process:{queue}")
            self.running.add(task)
            task.add_done_callback(self._finished)
            # Until the job has left its queue, the queue still counts it: wait, so that the next
            # slot does not chase the same job.
            waiting = asyncio.create_task(dequeued.wait())
            try:
                await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.running.discard(task)
        self._slots.release()

    async def _next_queue(self) -> QueueName | None:
        while not self._stopping:
            try:
                queue = await self.queues.first_waiting()
            except Exception as exc:  # Redis away: keep trying, the jobs wait in their queues
                self._log_error("looking for a job failed", exc)
                await self._idle(ERROR_BACKOFF_SECONDS)
                continue
            if queue is not None:
                return queue
            await self._idle(self.poll_interval)
        return None

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    async def _process(self, queue: QueueName, dequeued: asyncio.Event) -> None:
        _dequeued.set(dequeued)  # this task's own context, read by the before_process hook
        try:
            await self.workers[queue].process()
        finally:
            dequeued.set()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def drain(self, grace_seconds: float) -> None:
        """Let running jobs finish for `grace_seconds`, then cancel them: SAQ puts each back on its
        queue at once and the runner sets its row back to `queued` (its transaction rolls back)."""
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
