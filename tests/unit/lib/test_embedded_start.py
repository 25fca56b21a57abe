"""A new user's `make run` whose embedded Redis port is taken (another checkout's embedded Redis, say)
stops with one line naming the port and the setting to change, and leaves no server of its own behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from app.config import load_settings
from app.lib import embedded
from app.lib.infra import ensure_servers


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_taken_redis_port_is_named_with_the_setting_to_change(tmp_path: Path, taken_port: int) -> None:
    with pytest.raises(embedded.EmbeddedServerError) as refused:
        embedded.start_redis(tmp_path, taken_port)
    assert f"127.0.0.1:{taken_port} is already in use" in str(refused.value)
    assert "EMBEDDED_REDIS_PORT" in str(refused.value)
    assert not (tmp_path / "redis" / "redis.pid").exists()  # no server was launched


def test_the_command_stops_with_one_line_not_a_traceback(tmp_path: Path, taken_port: int) -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://u@127.0.0.1:5432/unused",
            "EMBEDDED_DIR": str(tmp_path),
            "EMBEDDED_REDIS_PORT": str(taken_port),
        },
        dotenv=None,
    )
    with pytest.raises(click.ClickException) as refused:
        ensure_servers(settings)
    assert "EMBEDDED_REDIS_PORT" in refused.value.message
    assert "\n" not in refused.value.message


def test_a_server_started_before_the_failure_is_stopped_again(tmp_path: Path, taken_port: int) -> None:
    # Before, the PostgreSQL started first kept running on its own when Redis then failed.
    with pytest.raises(embedded.EmbeddedServerError):
        embedded.ensure_up(tmp_path, taken_port, need_postgres=True, need_redis=True)
    assert (tmp_path / "pg" / "PG_VERSION").exists()  # it was started
    assert not embedded.postgres_running(tmp_path)
