"""Crash-safe writes and one writer per project.

A file is either the old version or the new one, never half-written: data goes to a temp file in
the same directory, is fsynced, renamed over the target, and the directory is fsynced so the rename
survives a power cut. ``project_lock`` / ``async_project_lock`` take ``fcntl.flock`` on
``{project_dir}/.lock``, which excludes other threads, coroutines and processes alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec

from app.domain.filestore.layout import LOCK_FILE
from app.lib.files import ensure_dir, fsync_dir

_COPY_CHUNK = 1024 * 1024
__all__ = ["ensure_dir", "fsync_dir"]  # re-exported for the store's modules
_json_encoder = msgspec.json.Encoder()  # Decimal → "1.50" (a string, exact), UUID/datetime → ISO text


class LockTimeout(TimeoutError):
    """The project lock was not acquired within the given time."""


def encode_json(obj: Any, *, indent: int = 2) -> bytes:
    """UTF-8 JSON without \\u escapes, Decimals as strings, indented for people, newline at the end."""
    data = _json_encoder.encode(obj)
    if indent:
        data = msgspec.json.format(data, indent=indent)
    return data + b"\n"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp file, fsync, rename, fsync dir)."""
    ensure_dir(path.parent)
    fd, temp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        _discard(temp)
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any, *, indent: int = 2) -> None:
    """``atomic_write_bytes`` of ``encode_json(obj)``."""
    atomic_write_bytes(path, encode_json(obj, indent=indent))


def atomic_copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically, streamed, keeping the source's modification time."""
    ensure_dir(target.parent)
    fd, temp = _create_temp(target)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(_COPY_CHUNK):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
            stat = os.fstat(src.fileno())
        os.utime(temp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(temp, target)
    except BaseException:
        _discard(temp)
        raise
    fsync_dir(target.parent)


def _create_temp(target: Path) -> tuple[int, Path]:
    stem = target.name if len(target.name.encode()) <= 200 else target.name[:50]
    temp = target.with_name(f".{stem}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    return fd, temp


def _discard(temp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


def _open_lock_file(project_dir: Path) -> int:
    ensure_dir(project_dir)
    return os.open(project_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def project_lock(project_dir: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive write lock of one project (blocking; ``LockTimeout`` after ``timeout`` s).

    Not re-entrant: taking it again while held, even in the same thread, waits for itself.
    """
    fd = _open_lock_file(project_dir)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            delay = 0.001
            while not _try_flock(fd):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(f"project lock {project_dir / LOCK_FILE} not acquired in {timeout} s")
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.asynccontextmanager
async def async_project_lock(
    project_dir: Path, *, timeout: float | None = None, max_poll_interval: float = 0.05
) -> AsyncIterator[None]:
    """``project_lock`` for asyncio: never blocks the event loop and is safe to cancel.

    The lock file is opened in a thread; the lock itself is tried without blocking and retried with
    a growing sleep, so a waiter holds no worker thread and a cancelled waiter leaves no lock behind.
    """
    fd = await asyncio.to_thread(_open_lock_file, project_dir)
    try:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = 0.001
        while not _try_flock(fd):
            if deadline is not None and loop.time() >= deadline:
                raise LockTimeout(f"project lock {project_dir / LOCK_FILE} not acquired in {timeout} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_poll_interval)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
