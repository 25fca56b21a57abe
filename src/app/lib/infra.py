"""What the process needs before it can serve: embedded servers when no URLs are given, migrations."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config

from app.config import Settings
from app.lib import embedded
from app.lib.db import MIGRATIONS_DIR


def embedded_dir(settings: Settings) -> Path:
    return Path(settings.EMBEDDED_DIR).resolve()


def ensure_servers(settings: Settings) -> embedded.Started:
    """Start the embedded PostgreSQL / Redis that the settings call for; no-op with both URLs set.

    A server that cannot start stops the command with one line saying why (a click error)."""
    import click

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(embedded_dir(settings) / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    Path(os.environ["XDG_RUNTIME_DIR"]).chmod(0o700)
    try:
        return embedded.ensure_up(
            embedded_dir(settings),
            settings.EMBEDDED_REDIS_PORT,
            need_postgres=settings.uses_embedded_database,
            need_redis=settings.uses_embedded_redis,
        )
    except embedded.EmbeddedServerError as exc:
        raise click.ClickException(str(exc)) from None


def stop_servers(settings: Settings, started: embedded.Started | None = None) -> None:
    embedded.stop(embedded_dir(settings), started)


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def migrate(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(database_url), revision)


T = TypeVar("T")


@contextmanager
def servers_for(settings: Settings) -> Iterator[None]:
    """The embedded servers when no URLs are set (stopped afterwards if started here)."""
    started = ensure_servers(settings) if settings.uses_embedded_database else None
    try:
        yield
    finally:
        if started is not None:
            stop_servers(settings, started)


def run_command(settings: Settings, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's async work with its servers; database trouble becomes a readable click error."""
    import asyncpg
    import click

    from app.lib.logging import configure_logging

    configure_logging(settings.LOG_LEVEL, json=False)
    with servers_for(settings):
        try:
            return asyncio.run(work())
        except asyncpg.UndefinedTableError as exc:
            raise click.ClickException(f"{exc}: the database has no schema yet, run `app db upgrade` first") from None
        except (OSError, asyncpg.PostgresError) as exc:
            raise click.ClickException(f"{exc.__class__.__name__}: {exc}") from None
