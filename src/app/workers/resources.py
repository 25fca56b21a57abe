"""The connections one worker process shares between its jobs: database, Redis, queues, events."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings
from app.domain.jobs.queues import JobQueues
from app.lib.redis import create_redis
from app.lib.redis_events import RedisEventPublisher


@dataclass(kw_only=True)
class WorkerResources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    queues: JobQueues
    events: RedisEventPublisher

    @classmethod
    def create(cls, settings: Settings) -> WorkerResources:
        engine = create_async_engine(
            settings.database_url,
            pool_size=max(2, settings.WORKER_CONCURRENCY + 2),
            max_overflow=settings.WORKER_CONCURRENCY * 2,
            pool_timeout=settings.DATABASE_POOL_TIMEOUT,
            pool_pre_ping=True,
            # JSONB columns are read with msgspec (2-3× json.loads): enrichment and audit read every
            # position's enrichment and metadata; writes keep SQLAlchemy's default serializer.
            json_deserializer=msgspec.json.decode,
        )
        redis = create_redis(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=async_sessionmaker(engine, expire_on_commit=False),
            redis=redis,
            queues=JobQueues(settings, redis),
            events=RedisEventPublisher(redis, settings.REDIS_NAMESPACE),
        )

    async def close(self) -> None:
        await self.queues.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
            await self.redis.connection_pool.disconnect()
        await self.engine.dispose()
