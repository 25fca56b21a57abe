"""The three SAQ queues (`high`, `default`, `low`) on Redis, shared by API processes and workers.

Queue names carry settings.REDIS_NAMESPACE (`{ns}:high`) so that several deployments or test runs can
share one Redis server. A SAQ job's key is its `background_jobs` row id; the SAQ function is always
`run_job` and the row says what to do, so an unknown job type fails visibly on its row instead of
inside SAQ. `submit_job` wakes idle workers through a pub/sub "doorbell"; workers also poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from saq.job import Job, Status
from saq.queue.redis import RedisQueue

from app.config import Settings
from app.domain.jobs.registry import QUEUE_NAMES, QueueName
from app.lib.redis import create_redis

logger = structlog.get_logger(__name__)

SAQ_FUNCTION = "run_job"
# A job's SAQ timeout is its own timeout plus this margin: the job runner enforces the real limit
# itself (so a timeout is an ordinary, retried failure) and SAQ's limit only catches a runner gone astray.
SAQ_TIMEOUT_MARGIN_SECONDS = 30
# How long SAQ keeps a finished job in Redis (for the /saq monitor); the row keeps everything forever.
SAQ_FINISHED_TTL_SECONDS = 24 * 3600
RETRY_BACKOFF_CAP_SECONDS = 300.0


def queue_name(settings: Settings, name: str) -> str:
    return f"{settings.REDIS_NAMESPACE}:{name}"


def wakeup_channel(settings: Settings) -> str:
    return f"{settings.REDIS_NAMESPACE}:jobs:wakeup"


class JobQueues:
    """The three queues of one process over one Redis client (a blocking pool, see app.lib.redis)."""

    def __init__(self, settings: Settings, redis: Redis | None = None) -> None:
        self.settings = settings
        self.redis = redis or create_redis(settings)
        self._owns_redis = redis is None
        self.queues: dict[QueueName, RedisQueue] = {
            name: RedisQueue(self.redis, name=queue_name(settings, name)) for name in QUEUE_NAMES
        }

    def queue(self, name: str) -> RedisQueue:
        return self.queues[name if name in self.queues else "default"]  # type: ignore[index]

    async def first_waiting(self, order: tuple[QueueName, ...] = QUEUE_NAMES) -> QueueName | None:
        """The first queue (in priority order) that holds a job ready to run, or None."""
        for name in order:
            if await self.queues[name].count("queued"):
                return name
        return None

    def by_saq_name(self) -> dict[str, RedisQueue]:
        return {queue.name: queue for queue in self.queues.values()}

    def new_saq_job(
        self,
        *,
        job_id: uuid.UUID,
        job_type: str,
        queue: str,
        timeout: int,
        max_retries: int,
    ) -> Job:
        """The SAQ job of a row: key = row id, retries = total attempts, heartbeat and backoff from settings."""
        settings = self.settings
        return Job(
            function=SAQ_FUNCTION,
            kwargs={"job_id": str(job_id), "job_type": job_type},
            queue=self.queue(queue),
            key=str(job_id),
            timeout=timeout + SAQ_TIMEOUT_MARGIN_SECONDS,
            heartbeat=settings.SAQ_JOB_HEARTBEAT,
            retries=max_retries + 1,  # SAQ counts attempts, not retries
            retry_delay=settings.SAQ_RETRY_BACKOFF,
            retry_backoff=RETRY_BACKOFF_CAP_SECONDS,
            ttl=SAQ_FINISHED_TTL_SECONDS,
        )

    async def enqueue(
        self,
        *,
        job_id: uuid.UUID,
        job_type: str,
        queue: str,
        timeout: int,
        max_retries: int,
    ) -> bool:
        """Put the job on its queue (a no-op when SAQ already holds it) and ring the doorbell."""
        saq_job = self.new_saq_job(
            job_id=job_id, job_type=job_type, queue=queue, timeout=timeout, max_retries=max_retries
        )
        enqueued = await self.queue(queue).enqueue(saq_job)
        with contextlib.suppress(RedisError):
            await self.redis.publish(wakeup_channel(self.settings), queue)
        return enqueued is not None

    async def saq_job(self, job_id: uuid.UUID | str, queue: str) -> Job | None:
        return await self.queue(queue).job(str(job_id))

    async def abort(self, job_id: uuid.UUID | str, queue: str, reason: str = "cancelled") -> None:
        """Stop a job: a queued one leaves its queue, a running one is cancelled by its worker."""
        saq_queue = self.queue(queue)
        saq_job = await saq_queue.job(str(job_id))
        if saq_job is None or saq_job.status in (Status.COMPLETE, Status.FAILED, Status.ABORTED):
            return
        await saq_queue.abort(saq_job, error=reason)

    async def close(self) -> None:
        if self._owns_redis:
            for queue in self.queues.values():
                with contextlib.suppress(Exception):
                    await queue.disconnect()


# Per event loop (Redis connections are loop-bound); an entry goes away with its loop.
_process_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], JobQueues]] = (
    weakref.WeakKeyDictionary()
)


def get_job_queues(settings: Settings) -> JobQueues:
    """The queues of this process for these settings (the API app's own instance when it runs)."""
    per_loop = _process_queues.setdefault(asyncio.get_running_loop(), {})
    key = (settings.redis_url, settings.REDIS_NAMESPACE)
    queues = per_loop.get(key)
    if queues is None:
        queues = per_loop[key] = JobQueues(settings)
    return queues


def bind_job_queues(queues: JobQueues) -> None:
    """Make `queues` the ones `get_job_queues` returns in the running loop (the API app's instance)."""
    settings = queues.settings
    per_loop = _process_queues.setdefault(asyncio.get_running_loop(), {})
    per_loop[(settings.redis_url, settings.REDIS_NAMESPACE)] = queues


def unbind_job_queues(queues: JobQueues) -> None:
    for per_loop in list(_process_queues.values()):
        for key in [key for key, value in per_loop.items() if value is queues]:
            del per_loop[key]
