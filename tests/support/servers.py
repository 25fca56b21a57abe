"""Per-run isolation on shared servers: a database of our own and a Redis db number of our own.

Every test session creates `ca_test_<hex>` (migrated to head) and drops it at the end, and takes a
free Redis database number (claimed with SET NX in db 0) plus a pub/sub namespace, so that several
runs — CI's two, developers' — can share one PostgreSQL and one Redis server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

if TYPE_CHECKING:
    from app.config import Settings

_T = TypeVar("_T")


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim_is_stale(value: bytes | None) -> bool:
    """A claim is `{run_id}:{pid}`; one whose process is gone (a killed run) may be taken over."""
    if not value:
        return True
    _, _, pid = value.decode().partition(":")
    return pid.isdigit() and not _pid_alive(int(pid))


def _db_url(redis_url: str, number: int) -> str:
    url = make_url(redis_url.replace("redis://", "postgresql://", 1))  # reuse SQLAlchemy's URL parsing
    auth = f":{url.password}@" if url.password else ""
    return f"redis://{auth}{url.host or '127.0.0.1'}:{url.port or 6379}/{number}"


def drop_stale_databases(server_url: str) -> None:
    """Drop `ca_test_{pid}_*` databases left by runs that were killed (their process is gone)."""

    async def _drop() -> None:
        engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                names = (
                    await conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'ca_test_%'"))
                ).scalars()
                for name in list(names):
                    parts = name.split("_")
                    if len(parts) >= 4 and parts[2].isdigit() and not _pid_alive(int(parts[2])):
                        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await engine.dispose()

    with contextlib.suppress(Exception):
        _run(_drop())


def claim_redis_db(redis_url: str, run_id: str) -> tuple[str, int]:
    base = redis.Redis.from_url(redis_url)
    claim = f"{run_id}:{os.getpid()}"
    try:
        try:
            databases = int(base.config_get("databases").get("databases", 16))
        except redis.ResponseError:
            databases = 16
        for number in range(1, databases):
            key = f"ca:test-db-claim:{number}"
            taken = base.set(key, claim, nx=True, ex=3 * 3600)
            if not taken and _claim_is_stale(base.get(key)):
                base.set(key, claim, ex=3 * 3600)
                taken = True
            if taken:
                client = redis.Redis.from_url(_db_url(redis_url, number))
                client.flushdb()
                client.close()
                return _db_url(redis_url, number), number
    finally:
        base.close()
    raise RuntimeError("no free Redis database number for this test run")


def release_redis_db(redis_url: str, number: int, run_id: str) -> None:
    base = redis.Redis.from_url(redis_url)
    with contextlib.suppress(redis.RedisError):
        own = base.get(f"ca:test-db-claim:{number}")
        if own and own.decode().startswith(f"{run_id}:"):
            redis.Redis.from_url(_db_url(redis_url, number)).flushdb()
            base.delete(f"ca:test-db-claim:{number}")
    base.close()


@contextlib.contextmanager
def isolated(server_database_url: str, server_redis_url: str) -> Iterator[TestServers]:
    run_id = uuid.uuid4().hex[:10]
    drop_stale_databases(server_database_url)
    name = f"ca_test_{os.getpid()}_{run_id}"
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


def run_in_scratch_database(work: Callable[[Settings], Awaitable[_T]], *, prefix: str = "ca_bench") -> _T:
    """For benchmarks: run ``work`` against a fresh, migrated database of its own (dropped afterwards)
    on the servers the environment names (embedded ones are started and stopped when none are)."""
    from app.config import load_settings
    from app.lib.infra import ensure_servers, migrate, stop_servers

    outer = load_settings()
    started = ensure_servers(outer)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    database_url = create_database(outer.database_url, name)
    try:
        migrate(database_url)
        return asyncio.run(work(load_settings({**os.environ, "DATABASE_URL": database_url}, dotenv=None)))
    finally:
        drop_database(outer.database_url, name)
        stop_servers(outer, started)


def run_on_isolated_servers(run: Callable[[Settings, Path], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """For benchmarks: `await run(settings, workdir)` on a database and Redis db number of its own
    (created, migrated and dropped here) on the servers of DATABASE_URL / REDIS_URL or the embedded ones."""
    import tempfile

    import msgspec

    from app.config import load_settings
    from app.lib.infra import ensure_servers, migrate, stop_servers

    outer = load_settings()
    started = ensure_servers(outer)
    try:
        with isolated(outer.database_url, outer.redis_url) as servers, tempfile.TemporaryDirectory() as work:
            migrate(servers.database_url)
            settings = msgspec.structs.replace(
                outer, DATABASE_URL=servers.database_url, REDIS_URL=servers.redis_url, REDIS_NAMESPACE=servers.namespace
            )
            return asyncio.run(run(settings, Path(work)))
    finally:
        stop_servers(outer, started)


def write_report(report: dict[str, Any], path: Path) -> None:
    """Print a benchmark's JSON report and keep it at `path`."""
    text = json.dumps(report, indent=2, default=str)
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
