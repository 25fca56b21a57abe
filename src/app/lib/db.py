"""The database engine and session configuration (advanced-alchemy), built once from settings."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
)
from asyncpg.exceptions import DataError as PostgresDataError
from asyncpg.exceptions import IntegrityConstraintViolationError as PostgresIntegrityError
from asyncpg.exceptions import InterfaceError as AsyncpgInterfaceError
from litestar import Litestar
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings, get_settings
from app.db.models import Base


def _migrations_dir() -> Path:
    """db/migrations of the checkout; in an installed image, the copy next to the working directory."""
    explicit = os.environ.get("MIGRATIONS_DIR")
    if explicit:
        return Path(explicit).resolve()
    source = Path(__file__).resolve().parents[3] / "db" / "migrations"
    return source if source.is_dir() else (Path.cwd() / "db" / "migrations").resolve()


MIGRATIONS_DIR = _migrations_dir()


def build_alchemy_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    """advanced-alchemy config. No autocommit before-send handler: services commit explicitly, so a
    failed commit raises inside the request and can never be answered with a 2xx.

    No `pool_pre_ping`: with asyncpg it is three round trips per checkout (BEGIN, a query, ROLLBACK),
    on every request that touches the database. A pooled connection the server closed (a restart,
    `pg_terminate_backend`, an idle timeout) is known closed to asyncpg as soon as the loop has read
    the close, and `replace_closed_connections` swaps it for a fresh one at checkout at no cost."""
    config = SQLAlchemyAsyncConfig(
        connection_string=settings.database_url,
        metadata=Base.metadata,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        engine_config=EngineConfig(
            pool_size=settings.DATABASE_POOL_SIZE,
            max_overflow=settings.DATABASE_MAX_OVERFLOW,
            pool_timeout=int(settings.DATABASE_POOL_TIMEOUT),
            pool_pre_ping=False,
            echo=settings.DATABASE_ECHO,
        ),
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            script_config=str(MIGRATIONS_DIR / "alembic.ini"),
            version_table_name="alembic_version",
        ),
        set_default_exception_handler=False,
        create_all=False,
    )
    replace_closed_connections(config.get_engine().sync_engine)
    return config


def _closed_connections_are_replaced(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    driver = record.driver_connection
    if driver is None or driver.is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


def replace_closed_connections(engine: Engine) -> None:
    """At checkout, a pooled connection that asyncpg knows closed is replaced by a fresh one (SQLAlchemy
    retries the checkout on DisconnectionError): the pre-ping's protection without its round trips."""
    if not event.contains(engine.pool, "checkout", _closed_connections_are_replaced):
        event.listen(engine.pool, "checkout", _closed_connections_are_replaced)


@lru_cache(maxsize=1)
def alchemy_config() -> SQLAlchemyAsyncConfig:
    """The process-wide config (one engine and pool), with statement timing for /metrics."""
    from app.lib.metrics import instrument_engine

    config = build_alchemy_config(get_settings())
    instrument_engine(config.get_engine().sync_engine)
    return config


def app_alchemy_config(app: Litestar) -> SQLAlchemyAsyncConfig:
    """The database config an app was built with (its plugin's; tests build apps on other databases)."""
    from advanced_alchemy.extensions.litestar import SQLAlchemyInitPlugin

    plugin = next(plugin for plugin in app.plugins.init if isinstance(plugin, SQLAlchemyInitPlugin))
    config = plugin.config[0]
    assert isinstance(config, SQLAlchemyAsyncConfig)
    return config


def engine() -> AsyncEngine:
    return alchemy_config().get_engine()


async def copy_rows(
    session: AsyncSession,
    table: str,
    columns: Sequence[str],
    records: Sequence[Sequence[Any]] | AsyncIterator[Sequence[Any]],
) -> None:
    """COPY `records` (tuples in `columns` order) into `table` on the session's own connection, inside its
    transaction: one round trip for thousands of rows, where an INSERT per row costs the server an
    executor start-up each. JSON(B) columns take JSON text; columns left out get their server default.
    An async iterator is sent as it yields, so the server stores the first rows while the rest are made.
    A value PostgreSQL refuses raises SQLAlchemy's DataError (IntegrityError for a constraint), as an
    INSERT of it would, so callers and the error handlers treat both alike."""
    if isinstance(records, Sequence) and not records:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    statement = f"COPY {table} ({', '.join(columns)})"
    try:
        await driver.copy_records_to_table(table, records=records, columns=list(columns))
    except PostgresIntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc
    except PostgresDataError as exc:
        raise DataError(statement, None, exc) from exc
    except AsyncpgInterfaceError as exc:
        if isinstance(exc, ValueError):  # asyncpg could not encode a value for its column
            raise DataError(statement, None, exc) from exc
        raise


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's connection, for a hot path's few statements (see
    `driver_fetch`). The session's transaction must have begun (a statement ran through SQLAlchemy):
    a statement sent before SQLAlchemy's BEGIN would run outside the transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        raise RuntimeError("driver_connection needs the session's transaction to have begun")
    return driver


async def driver_fetch(driver: Any, statement: str, *args: Any) -> list[Any]:
    """One statement on asyncpg directly (prepared once per connection; about a quarter of the CPU of
    the same statement through SQLAlchemy): asyncpg Records (JSON(B) columns as JSON text, as the
    dialect's codecs set them up). Timed into the statement metrics like every other statement; a
    value PostgreSQL refuses raises SQLAlchemy's DataError / IntegrityError, as through the ORM."""
    from app.lib.metrics import DB_QUERY_SECONDS

    started = time.perf_counter()
    try:
        rows: list[Any] = await driver.fetch(statement, *args)
        return rows
    except PostgresIntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc
    except PostgresDataError as exc:
        raise DataError(statement, None, exc) from exc
    finally:
        DB_QUERY_SECONDS.observe(time.perf_counter() - started)
