"""Per-run isolation on shared servers: a database of our own and a Redis db number of our own.

Every test session creates `ca_test_<hex>` (migrated to head) and drops it at the end, and takes a
free Redis database number (claimed with SET NX in db 0) plus a pub/sub namespace, so that several
runs — CI's two, developers' — can share one PostgreSQL and one Redis server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


@dataclass
class TestServers:
    __test__ = False

    database_url: str
    redis_url: str
    namespace: str


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def create_database(server_url: str, name: str) -> str:
    _run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    _run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def claim_redis_db(redis_url: str, run_id: str) -> tuple[str, int]:
    base = redis.Redis.from_url(redis_url)
    try:
        databases = int(base.config_get("databases").get("databases", 16))
    except redis.ResponseError:
        databases = 16
    for number in range(1, databases):
        if base.set(f"ca:test-db-claim:{number}", run_id, nx=True, ex=3 * 3600):
            url = make_url(redis_url.replace("redis://", "postgresql://", 1))  # reuse URL handling
            host = url.host or "127.0.0.1"
            port = url.port or 6379
            auth = f":{url.password}@" if url.password else ""
            client = redis.Redis.from_url(f"redis://{auth}{host}:{port}/{number}")
            client.flushdb()
            client.close()
            base.close()
            return f"redis://{auth}{host}:{port}/{number}", number
    base.close()
    raise RuntimeError("no free Redis database number for this test run")


def release_redis_db(redis_url: str, number: int, run_id: str) -> None:
    base = redis.Redis.from_url(redis_url)
    with contextlib.suppress(redis.RedisError):
        own = base.get(f"ca:test-db-claim:{number}")
        if own and own.decode() == run_id:
            db_url = redis_url.rsplit("/", 1)[0] + f"/{number}"
            redis.Redis.from_url(db_url).flushdb()
            base.delete(f"ca:test-db-claim:{number}")
    base.close()


@contextlib.contextmanager
def isolated(server_database_url: str, server_redis_url: str) -> Iterator[TestServers]:
    run_id = uuid.uuid4().hex[:10]
    name = f"ca_test_{run_id}"
    db_url = create_database(server_database_url, name)
    redis_url, number = claim_redis_db(server_redis_url, run_id)
    try:
        yield TestServers(database_url=db_url, redis_url=redis_url, namespace=f"t{run_id}")
    finally:
        drop_database(server_database_url, name)
        release_redis_db(server_redis_url, number, run_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
