"""Settings: read once from the environment (and an optional `.env`), validated at start.

A bad value stops the process with one line naming the variable (see `SettingsError`).
When DATABASE_URL / REDIS_URL are unset the embedded servers under EMBEDDED_DIR are used.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import msgspec

MigrationMode = Literal["files_only", "dual_write", "postgres_only"]
ReadSource = Literal["files", "postgres"]


class SettingsError(SystemExit):
    """Raised for an invalid setting; exits the process with a one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    # Database
    DATABASE_URL: str = ""
    DATABASE_POOL_SIZE: int = 20
    DATABASE_MAX_OVERFLOW: int = 10
    DATABASE_POOL_TIMEOUT: float = 30.0
    DATABASE_ECHO: bool = False
    # Redis
    REDIS_URL: str = ""
    REDIS_MAX_CONNECTIONS: int = 50
    REDIS_SOCKET_TIMEOUT: float = 5.0
    # Prefix of pub/sub channel and queue names, so several deployments (or test runs) can share
    # one Redis server: keys are separated by database number, pub/sub is global.
    REDIS_NAMESPACE: str = "ca"
    # Jobs (SAQ)
    WORKER_CONCURRENCY: int = 4
    # SIGTERM: running jobs get this long to finish, then they are handed back to their queue at once.
    WORKER_SHUTDOWN_GRACE: float = 10.0
    # Modules that register extra job types when imported (comma-separated; the tests' job types).
    JOB_MODULES: str = ""
    SAQ_JOB_TIMEOUT: int = 600
    # A running job touches its SAQ heartbeat every third of this; a job silent for longer is taken again.
    SAQ_JOB_HEARTBEAT: int = 5
    SAQ_MAX_RETRIES: int = 3
    SAQ_RETRY_BACKOFF: float = 2.0
    SAQ_WEB_ENABLED: bool = True
    # WebSockets
    WEBSOCKET_ENABLED: bool = True
    WEBSOCKET_PING_INTERVAL: float = 30.0
    WEBSOCKET_PING_TIMEOUT: float = 10.0
    WEBSOCKET_BACKLOG: int = 500
    # Old file store and migration
    MIGRATION_MODE: MigrationMode = "postgres_only"
    MIGRATION_READ_FROM: ReadSource = "postgres"
    MIGRATION_DUAL_WRITE: bool = False
    MIGRATION_DEFAULT_OWNER: str = "legacy@concrete-agent.local"
    DATA_DIR: str = "data/projects"
    STORAGE_DIR: str = ".data/storage"
    BACKUP_DIR: str = ".data/backups"
    BACKUP_RETENTION_DAYS: int = 30
    UPLOAD_MAX_BYTES: int = 50 * 1024 * 1024
    # A JSON request body (uploads are multipart and bounded by UPLOAD_MAX_BYTES).
    JSON_BODY_MAX_BYTES: int = 1024 * 1024
    # Security and sessions
    SECRET_KEY: str = "dev-only-secret-change-me"
    SESSION_TTL_SECONDS: int = 24 * 3600
    PASSWORD_MIN_LENGTH: int = 10
    # Cache and rate limits ("N/second|minute|hour")
    CACHE_TTL_SECONDS: int = 3600
    RATE_LIMIT_DEFAULT: str = "600/minute"
    RATE_LIMIT_AUTH: str = "10/minute"
    RATE_LIMIT_UPLOAD: str = "60/minute"
    RATE_LIMIT_JOBS: str = "120/minute"
    # Sessions and cached entries kept in each API process (invalidated through Redis pub/sub, see
    # app.lib.near_cache) for at most this long; 0 turns the near-cache (and rate-limit leases) off.
    NEAR_CACHE_TTL_SECONDS: float = 5.0
    # Server
    SERVER_HOST: str = "127.0.0.1"
    SERVER_PORT: int = 8000
    # 0: one API process per CPU core, at most 4 (each has its own database pool, see README).
    SERVER_WORKERS: int = 0
    # Start even when SERVER_PORT is already taken, sharing it (SO_REUSEPORT: rolling restarts only).
    SERVER_REUSE_PORT: bool = False
    # The address users reach the service at (https://budget.example.cz). Its scheme decides the session
    # cookie's `Secure` flag; unset, the request's own scheme does (plain HTTP on a LAN host works).
    PUBLIC_URL: str = ""
    DEBUG: bool = False
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Embedded servers (used when DATABASE_URL / REDIS_URL are unset)
    EMBEDDED_DIR: str = ".data"
    EMBEDDED_REDIS_PORT: int = 6390

    @property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        from app.lib.embedded import embedded_database_url

        return embedded_database_url(Path(self.EMBEDDED_DIR))

    @property
    def redis_url(self) -> str:
        return self.REDIS_URL or f"redis://127.0.0.1:{self.EMBEDDED_REDIS_PORT}/0"

    def secure_cookies(self, request_scheme: str) -> bool:
        """Whether cookies get `Secure`: the PUBLIC_URL's scheme, else the request's."""
        scheme = self.PUBLIC_URL.partition("://")[0] if self.PUBLIC_URL else request_scheme
        return scheme in ("https", "wss")

    @property
    def api_workers(self) -> int:
        """API processes granian starts: SERVER_WORKERS, or by default one per core, at most 4."""
        if self.SERVER_WORKERS > 0:
            return self.SERVER_WORKERS
        return max(1, min(os.cpu_count() or 1, 4))

    @property
    def uses_embedded_database(self) -> bool:
        return not self.DATABASE_URL

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.REDIS_URL

    @property
    def writes_files(self) -> bool:
        return self.MIGRATION_MODE in ("files_only", "dual_write") or self.MIGRATION_DUAL_WRITE

    @property
    def writes_postgres(self) -> bool:
        return self.MIGRATION_MODE != "files_only"


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def _validate(settings: Settings) -> Settings:
    checks: list[tuple[str, bool, str]] = [
        ("DATABASE_POOL_SIZE", settings.DATABASE_POOL_SIZE >= 1, "must be >= 1"),
        ("DATABASE_MAX_OVERFLOW", settings.DATABASE_MAX_OVERFLOW >= 0, "must be >= 0"),
        ("REDIS_MAX_CONNECTIONS", settings.REDIS_MAX_CONNECTIONS >= 2, "must be >= 2"),
        ("WORKER_CONCURRENCY", settings.WORKER_CONCURRENCY >= 1, "must be >= 1"),
        ("SAQ_MAX_RETRIES", settings.SAQ_MAX_RETRIES >= 0, "must be >= 0"),
        ("SAQ_JOB_HEARTBEAT", settings.SAQ_JOB_HEARTBEAT >= 1, "must be >= 1"),
        ("WORKER_SHUTDOWN_GRACE", settings.WORKER_SHUTDOWN_GRACE >= 0, "must be >= 0"),
        ("WEBSOCKET_PING_INTERVAL", settings.WEBSOCKET_PING_INTERVAL > 0, "must be > 0"),
        ("WEBSOCKET_PING_TIMEOUT", settings.WEBSOCKET_PING_TIMEOUT > 0, "must be > 0"),
        ("UPLOAD_MAX_BYTES", settings.UPLOAD_MAX_BYTES >= 1, "must be >= 1"),
        ("JSON_BODY_MAX_BYTES", settings.JSON_BODY_MAX_BYTES >= 1024, "must be >= 1024"),
        ("NEAR_CACHE_TTL_SECONDS", 0 <= settings.NEAR_CACHE_TTL_SECONDS <= 3600, "must be 0 (off) to 3600"),
        ("SERVER_PORT", 0 < settings.SERVER_PORT < 65536, "must be a TCP port"),
        ("SERVER_WORKERS", settings.SERVER_WORKERS >= 0, "must be >= 0 (0: one per core, at most 4)"),
        ("EMBEDDED_REDIS_PORT", 0 < settings.EMBEDDED_REDIS_PORT < 65536, "must be a TCP port"),
        ("SECRET_KEY", len(settings.SECRET_KEY) >= 16, "must be at least 16 characters"),
        (
            "DATABASE_URL",
            not settings.DATABASE_URL or settings.DATABASE_URL.startswith("postgresql"),
            "must be a postgresql:// or postgresql+asyncpg:// URL",
        ),
        (
            "PUBLIC_URL",
            not settings.PUBLIC_URL or settings.PUBLIC_URL.startswith(("http://", "https://")),
            "must be an http:// or https:// URL",
        ),
        (
            "REDIS_URL",
            not settings.REDIS_URL or settings.REDIS_URL.startswith(("redis://", "rediss://")),
            "must be a redis:// or rediss:// URL",
        ),
    ]
    for rate_name in ("RATE_LIMIT_DEFAULT", "RATE_LIMIT_AUTH", "RATE_LIMIT_UPLOAD", "RATE_LIMIT_JOBS"):
        value = getattr(settings, rate_name)
        count, _, unit = value.partition("/")
        checks.append(
            (
                rate_name,
                count.isdigit() and unit in ("second", "minute", "hour", "day"),
                "must look like 600/minute",
            )
        )
    for name, ok, why in checks:
        if not ok:
            raise SettingsError(f"{name}={getattr(settings, name)!r} {why}")
    if settings.DATABASE_URL.startswith("postgresql://"):
        settings = msgspec.structs.replace(
            settings, DATABASE_URL=settings.DATABASE_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
        )
    return settings


def load_settings(environ: dict[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    """Build settings from `.env` (if present) overlaid by the environment; exit on a bad value."""
    env = dict(os.environ if environ is None else environ)
    source = _read_dotenv(dotenv) if dotenv else {}
    source.update(env)
    names = set(Settings.__struct_fields__)
    raw = {k: v for k, v in source.items() if k in names}
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec says "Expected `int`, got `str` - at `$.DATABASE_POOL_SIZE`": name the variable first.
        message = str(exc)
        field = message.rsplit("$.", 1)[-1].strip("`") if "$." in message else "?"
        detail = message.split(" - at ")[0]
        raise SettingsError(f"{field}={raw.get(field)!r}: {detail}") from None
    return _validate(settings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
