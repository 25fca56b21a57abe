"""The commands people and containers start: `app serve` (container entrypoint) and `app run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.support.servers import TestServers, free_port


def _wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "process exited before it became ready"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                return int(response.status)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("not ready before the deadline")


def _env(servers: TestServers, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": servers.database_url,
        "REDIS_URL": servers.redis_url,
        "REDIS_NAMESPACE": servers.namespace,
        "SERVER_PORT": str(port),
    }


@pytest.mark.slow
@pytest.mark.parametrize("command", [["serve"], ["run"]])
def test_command_serves_and_stops_without_leftovers(servers: TestServers, command: list[str]) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", *command], env=_env(servers, port), start_new_session=True)
    try:
        assert _wait_ready(port, proc) == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        if command == ["run"]:
            assert any("worker" in " ".join(c.cmdline()) for c in children), "app run starts a worker"
        proc.send_signal(signal.SIGINT if command == ["run"] else signal.SIGTERM)
        # `app run` gives each child 20 s to stop before it kills it: 30 s was too short on a busy machine.
        assert proc.wait(timeout=60) is not None
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_second_api_on_a_busy_port_refuses_to_start_unless_asked_to_share(servers: TestServers) -> None:
    port = free_port()
    first = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=_env(servers, port), start_new_session=True)
    second = None
    try:
        assert _wait_ready(port, first) == 200
        refused = subprocess.run(
            [sys.executable, "-m", "app", "serve"], env=_env(servers, port), capture_output=True, timeout=60
        )
        assert refused.returncode != 0
        assert f"port {port}" in refused.stderr.decode() and "SERVER_REUSE_PORT" in refused.stderr.decode()
        shared = {**_env(servers, port), "SERVER_REUSE_PORT": "true"}
        second = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=shared, start_new_session=True)
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        assert _wait_ready(port, second) == 200  # the port is served by the second one alone now
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a command it starts in the background (`.ci/run &`).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
def test_app_run_stops_on_ctrl_c_while_starting_even_with_sigint_ignored(servers: TestServers) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "run"],
        env=_env(servers, port),
        start_new_session=True,
        preexec_fn=_ignore_sigint,
    )
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and len(children) < 2:  # granian and the worker, not yet ready
            assert proc.poll() is None, "app run exited before it started its children"
            children = psutil.Process(proc.pid).children()
            time.sleep(0.05)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) is not None
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
