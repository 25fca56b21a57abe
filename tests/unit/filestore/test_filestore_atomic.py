"""Atomic writes leave no half files or temp files; the project lock admits one writer at a time."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from app.domain.filestore import (
    LockTimeout,
    async_project_lock,
    atomic_copy_file,
    atomic_write_bytes,
    atomic_write_json,
    project_lock,
)
from app.domain.filestore import atomic as atomic_module


def test_atomic_write_creates_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "project.json"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["project.json"]


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "positions.json"
    atomic_write_bytes(target, b"old")

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["positions.json"]


def test_atomic_write_json_is_utf8_with_decimal_strings(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write_json(target, {"název": "Výkaz – SO 01", "cena": Decimal("1234.50")})
    text = target.read_text(encoding="utf-8")
    assert '"název": "Výkaz – SO 01"' in text
    assert '"cena": "1234.50"' in text
    assert text.endswith("}\n")


def test_atomic_copy_keeps_content_and_mtime(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    os.utime(source, ns=(1_700_000_000_000_000_000, 1_700_000_000_123_456_789))
    target = tmp_path / "out" / "raw" / "vykresy" / "Řez.pdf"
    atomic_copy_file(source, target)
    assert target.read_bytes() == source.read_bytes()
    assert target.stat().st_mtime_ns == source.stat().st_mtime_ns
    assert [p.name for p in target.parent.iterdir()] == ["Řez.pdf"]


# ---------------------------------------------------------------------------------------------
# The project lock


def test_lock_excludes_a_second_thread(tmp_path: Path) -> None:
    project_dir = tmp_path / "p"
    spans: list[tuple[float, float]] = []
    counter = project_dir / "counter"

    def worker() -> None:
        for _ in range(10):
            with project_lock(project_dir):
                start = time.monotonic()
                value = int(counter.read_text()) if counter.exists() else 0
                time.sleep(0.002)
                counter.write_text(str(value + 1))
                spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.read_text() == "30"  # no lost update
    spans.sort()
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))


def test_lock_times_out_while_held(tmp_path: Path) -> None:
    with project_lock(tmp_path), pytest.raises(LockTimeout), project_lock(tmp_path, timeout=0.05):
        pass  # pragma: no cover
    with project_lock(tmp_path, timeout=0.05):
        pass  # free again


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from app.domain.filestore import LockTimeout, project_lock
    project_dir, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "try":
        try:
            with project_lock(project_dir, timeout=0.1):
                print("acquired", flush=True)
        except LockTimeout:
            print("timeout", flush=True)
    else:
        print("waiting", flush=True)
        with project_lock(project_dir):
            print(repr(time.time()), flush=True)
    """
)


@pytest.mark.slow
def test_lock_excludes_a_second_process(tmp_path: Path) -> None:
    def child(mode: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), mode], stdout=subprocess.PIPE, text=True)

    with project_lock(tmp_path):
        tried = child("try")
        assert tried.communicate(timeout=30)[0].strip() == "timeout"
        waiting = child("wait")
        assert waiting.stdout is not None
        assert waiting.stdout.readline().strip() == "waiting"
        time.sleep(0.3)
        released_at = time.time()
    acquired_at = float(waiting.communicate(timeout=30)[0].strip())
    assert acquired_at >= released_at
    assert child("try").communicate(timeout=30)[0].strip() == "acquired"


async def test_async_lock_excludes_coroutines_and_threads(tmp_path: Path) -> None:
    events: list[str] = []

    async def holder(name: str) -> None:
        async with async_project_lock(tmp_path):
            events.append(f"{name}+")
            await asyncio.sleep(0.02)
            events.append(f"{name}-")

    def thread_holder() -> None:
        with project_lock(tmp_path):
            events.append("t+")
            time.sleep(0.02)
            events.append("t-")

    await asyncio.gather(holder("a"), holder("b"), asyncio.to_thread(thread_holder), holder("c"))
    assert len(events) == 8
    for index in range(0, 8, 2):  # every entry is followed by its own exit
        assert events[index].endswith("+")
        assert events[index + 1] == events[index][:-1] + "-"


async def test_async_lock_timeout_and_cancel_leave_no_lock(tmp_path: Path) -> None:
    with project_lock(tmp_path):
        with pytest.raises(LockTimeout):
            async with async_project_lock(tmp_path, timeout=0.05):
                pass  # pragma: no cover
        waiter = asyncio.create_task(_hold(tmp_path))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with async_project_lock(tmp_path, timeout=1):
        pass
    assert os.listdir(tmp_path) == [".lock"]


async def _hold(project_dir: Path) -> None:
    async with async_project_lock(project_dir):
        await asyncio.sleep(10)  # pragma: no cover
