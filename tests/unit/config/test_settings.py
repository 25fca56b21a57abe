"""Settings are validated at start and a bad value stops the process with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.config import SettingsError, load_settings


def test_defaults_match_the_specification() -> None:
    settings = load_settings({}, dotenv=None)
    assert settings.DATABASE_POOL_SIZE == 20
    assert settings.DATABASE_MAX_OVERFLOW == 10
    assert settings.REDIS_MAX_CONNECTIONS == 50
    assert settings.WORKER_CONCURRENCY == 4
    assert settings.WEBSOCKET_PING_INTERVAL == 30
    assert settings.WEBSOCKET_PING_TIMEOUT == 10
    assert settings.MIGRATION_MODE == "postgres_only"
    assert settings.uses_embedded_database and settings.uses_embedded_redis


def test_values_are_converted_from_strings() -> None:
    settings = load_settings(
        {"DATABASE_POOL_SIZE": "7", "DEBUG": "true", "DATABASE_URL": "postgresql://u@h/db"}, dotenv=None
    )
    assert settings.DATABASE_POOL_SIZE == 7
    assert settings.DEBUG is True
    assert settings.DATABASE_URL == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_POOL_SIZE", "abc"),
        ("DATABASE_POOL_SIZE", "0"),
        ("MIGRATION_MODE", "sometimes"),
        ("REDIS_URL", "unix:///tmp/redis.sock"),
        ("RATE_LIMIT_AUTH", "ten per minute"),
        ("WEBSOCKET_ENABLED", "maybe"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value}, dotenv=None)
    assert name in str(caught.value.code)


def test_dotenv_is_read_and_environment_wins(tmp_path: object) -> None:
    from pathlib import Path

    env_file = Path(str(tmp_path)) / ".env"
    env_file.write_text("DATABASE_POOL_SIZE=5\nWORKER_CONCURRENCY=2\n")
    settings = load_settings({"WORKER_CONCURRENCY": "3"}, dotenv=env_file)
    assert settings.DATABASE_POOL_SIZE == 5
    assert settings.WORKER_CONCURRENCY == 3


def test_process_exits_with_one_line() -> None:
    env = {**os.environ, "DATABASE_POOL_SIZE": "lots"}
    result = subprocess.run(
        [sys.executable, "-m", "app", "infra", "status"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert lines[-1] == "configuration error: DATABASE_POOL_SIZE='lots': Expected `int`, got `str`"
