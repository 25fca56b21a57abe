"""The knowledge-base cache: every catalogue, price and standards look-up is answered through it.

Two layers in front of the source (catalog_items / reference_sets):
  Redis ``kb:search:{hash}`` (TTL = the entry's remaining validity, at most an hour), then
  PostgreSQL ``kb_cache`` (``query_hash`` = sha256 of type + normalised query; ``expires_at`` by type:
  code and catalogue look-ups 30 days, prices 1 day, standards 365 days).
Look-ups come in batches (a whole budget's codes at once): one MGET, one ``kb_cache`` read, one load of
what is still missing, one upsert and one access-count update, however many queries the batch holds.
Hits bump ``access_count`` / ``last_accessed_at``; hits and misses are counted in the process's
``concrete_agent_cache_events_total{cache="kb"}`` (app.lib.metrics). When Redis does not
answer, PostgreSQL alone serves. ``kb_cache`` is written on its own autocommit connection, never in the
caller's transaction, so that long jobs do not hold locks on shared cache rows.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.models import utc_now
from app.lib.metrics import count_cache_event

logger = structlog.get_logger(__name__)

LookupType = Literal["code", "catalog", "price", "standard"]
LOOKUP_TYPES: tuple[LookupType, ...] = ("code", "catalog", "price", "standard")
VALIDITY: dict[str, datetime.timedelta] = {
    "code": datetime.timedelta(days=30),
    "catalog": datetime.timedelta(days=30),
    "price": datetime.timedelta(days=1),
    "standard": datetime.timedelta(days=365),
}
REDIS_TTL_CAP_SECONDS = 3600
REDIS_KEY_PREFIX = "kb:search:"

Origin = Literal["redis", "postgres", "source"]


class Answer(msgspec.Struct, kw_only=True):
    """One cached answer: the result (JSON builtins), where it came from, and until when it holds."""

    result: Any
    sources: list[Any] = msgspec.field(default_factory=list)
    expires_at: datetime.datetime
    origin: Origin = "source"

    @property
    def hit(self) -> bool:
        return self.origin != "source"


class _RedisValue(msgspec.Struct):
    result: Any
    sources: list[Any]
    expires_at: datetime.datetime


SourceLoader = Callable[[AsyncConnection, list[str]], Awaitable[Mapping[str, tuple[Any, list[Any]]]]]
"""(connection, the queries that missed) → query → (result, sources); one round trip for all of them."""

_encode = msgspec.json.Encoder().encode
_decode_redis = msgspec.json.Decoder(_RedisValue).decode


def normalize_query(query: str) -> str:
    """Case and runs of whitespace do not make a different question."""
    return " ".join(query.split()).casefold()


def query_hash(query_type: str, query: str) -> str:
    """sha256 of the type and the normalised query: the ``kb_cache.query_hash`` and the Redis key part."""
    return hashlib.sha256(f"{query_type}\x1f{normalize_query(query)}".encode()).hexdigest()


def redis_key(hash_: str) -> str:
    return f"{REDIS_KEY_PREFIX}{hash_}"


_READ = text(
    """
    SELECT query_hash, result, sources, expires_at FROM kb_cache
    WHERE query_hash = ANY(CAST(:hashes AS text[])) AND expires_at > now()
    """
)
_UPSERT = text(
    """
    INSERT INTO kb_cache AS k
        (query_hash, query_type, query_text, result, sources, expires_at, access_count, last_accessed_at)
    SELECT h, CAST(:query_type AS text), q, CAST(r AS jsonb), CAST(s AS jsonb), e, 1, now()
    FROM unnest(CAST(:hashes AS text[]), CAST(:queries AS text[]), CAST(:results AS text[]),
                CAST(:sources AS text[]), CAST(:expires AS timestamptz[])) AS t(h, q, r, s, e)
    ORDER BY h
    ON CONFLICT (query_hash) DO UPDATE SET
        result = EXCLUDED.result, sources = EXCLUDED.sources, expires_at = EXCLUDED.expires_at,
        query_text = EXCLUDED.query_text, access_count = k.access_count + 1, last_accessed_at = now()
    """
)
_TOUCH = text(
    """
    UPDATE kb_cache SET access_count = access_count + 1, last_accessed_at = now()
    WHERE query_hash = ANY(CAST(:hashes AS text[]))
    """
)


class KnowledgeCache:
    """Batched look-ups through Redis and ``kb_cache``; ``redis=None`` means PostgreSQL only."""

    def __init__(self, engine: AsyncEngine, redis: Redis | None) -> None:
        self.engine = engine
        self.redis = redis

    async def get(self, query_type: LookupType, query: str, load: SourceLoader) -> Answer:
        """One look-up (see ``get_many``)."""
        return (await self.get_many(query_type, [query], load))[query]

    async def get_many(self, query_type: LookupType, queries: Iterable[str], load: SourceLoader) -> dict[str, Answer]:
        """Answers for all ``queries`` of one type; ``load`` is called once with those found in no cache."""
        if query_type not in VALIDITY:
            raise ValueError(f"unknown look-up type {query_type!r}")
        hash_of = {query: query_hash(query_type, query) for query in queries}
        if not hash_of:
            return {}
        by_hash: dict[str, str] = {}
        for query, hash_ in hash_of.items():
            by_hash.setdefault(hash_, query)
        answers: dict[str, Answer] = {}
        answers.update(await self._from_redis(by_hash))
        to_fill: dict[str, Answer] = {}
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            missing = [h for h in by_hash if h not in answers]
            if missing:
                from_pg = await self._from_postgres(conn, missing)
                answers.update(from_pg)
                to_fill.update(from_pg)
            missing = [h for h in by_hash if h not in answers]
            if missing:
                loaded = await load(conn, [by_hash[h] for h in missing])
                now = utc_now()
                fresh = {
                    h: Answer(
                        result=loaded.get(by_hash[h], (None, []))[0],
                        sources=list(loaded.get(by_hash[h], (None, []))[1]),
                        expires_at=now + VALIDITY[query_type],
                    )
                    for h in missing
                }
                await self._store(conn, query_type, fresh, by_hash)
                answers.update(fresh)
                to_fill.update(fresh)
            hits = sorted(h for h, answer in answers.items() if answer.hit)
            if hits:
                await conn.execute(_TOUCH, {"hashes": hits})
        await self._fill_redis(to_fill)
        _count(hits=len(hits), misses=len(by_hash) - len(hits))
        return {query: answers[hash_] for query, hash_ in hash_of.items()}

    async def _from_redis(self, by_hash: Mapping[str, str]) -> dict[str, Answer]:
        if self.redis is None:
            return {}
        hashes = list(by_hash)
        try:
            values = await self.redis.mget([redis_key(h) for h in hashes])
        except (RedisError, OSError) as exc:
            logger.warning("kb cache: redis unavailable, reading PostgreSQL", error=str(exc))
            return {}
        found: dict[str, Answer] = {}
        now = utc_now()
        for h, raw in zip(hashes, values, strict=True):
            if raw is None:
                continue
            try:
                value = _decode_redis(raw)
            except msgspec.DecodeError:
                continue
            if value.expires_at > now:
                found[h] = Answer(
                    result=value.result, sources=value.sources, expires_at=value.expires_at, origin="redis"
                )
        return found

    async def _from_postgres(self, conn: AsyncConnection, hashes: Sequence[str]) -> dict[str, Answer]:
        rows = (await conn.execute(_READ, {"hashes": list(hashes)})).all()
        return {
            h: Answer(result=result, sources=list(sources or []), expires_at=expires_at, origin="postgres")
            for h, result, sources, expires_at in rows
        }

    async def _store(
        self, conn: AsyncConnection, query_type: str, fresh: Mapping[str, Answer], by_hash: Mapping[str, str]
    ) -> None:
        hashes = sorted(fresh)
        await conn.execute(
            _UPSERT,
            {
                "query_type": query_type,
                "hashes": hashes,
                "queries": [by_hash[h] for h in hashes],
                "results": [_encode(fresh[h].result).decode() for h in hashes],
                "sources": [_encode(fresh[h].sources).decode() for h in hashes],
                "expires": [fresh[h].expires_at for h in hashes],
            },
        )

    async def _fill_redis(self, answers: Mapping[str, Answer]) -> None:
        if self.redis is None or not answers:
            return
        now = utc_now()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for h, answer in answers.items():
                    remaining = int((answer.expires_at - now).total_seconds())
                    if remaining <= 0:
                        continue
                    value = _RedisValue(result=answer.result, sources=answer.sources, expires_at=answer.expires_at)
                    pipe.set(redis_key(h), _encode(value), ex=min(remaining, REDIS_TTL_CAP_SECONDS))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("kb cache: redis fill skipped", error=str(exc))


def _count(*, hits: int, misses: int) -> None:
    if hits:
        count_cache_event("hit", "kb", hits)
    if misses:
        count_cache_event("miss", "kb", misses)


async def forget_cached_answers(redis: Redis | None) -> int:
    """Drop every ``kb:search:*`` key (after a reference-data load); best effort, returns how many."""
    if redis is None:
        return 0
    dropped = 0
    try:
        batch: list[Any] = []
        async for key in redis.scan_iter(match=f"{REDIS_KEY_PREFIX}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                dropped += int(await redis.delete(*batch))
                batch = []
        if batch:
            dropped += int(await redis.delete(*batch))
    except (RedisError, OSError) as exc:
        logger.warning("kb cache: redis keys not dropped; they expire within an hour", error=str(exc))
    return dropped
