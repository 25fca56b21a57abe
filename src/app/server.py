"""Assembles Litestar from settings: plugins, controllers, exception mapping, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import (
    SQLAlchemyAsyncConfig,
    SQLAlchemyInitPlugin,
    SQLAlchemySerializationPlugin,
)
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.plugins.problem_details import ProblemDetailsPlugin
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.domain.accounts.middleware import request_gate_middleware
from app.lib import db as lib_db
from app.lib import metrics, near_cache, unit_of_work
from app.lib.cache_control import forbid_storing
from app.lib.db import alchemy_config
from app.lib.errors import problem_details_config
from app.lib.input_bounds import BoundedRequest, refuse_unstorable_query
from app.lib.logging import configure_logging
from app.lib.metrics import request_metrics_middleware
from app.lib.near_answer import COMPRESS_FROM, GZIP_LEVEL
from app.lib.redis import create_redis
from app.lib.request_id import add_request_id_header, request_id_middleware


class DatabasePlugin(SQLAlchemyInitPlugin):
    """advanced-alchemy's plugin without its `database` CLI group (`app db` is ours, alembic in
    db/migrations), with the request's unit of work: what the request's session committed is acted on
    before the response starts (app.lib.unit_of_work)."""

    def on_cli_init(self, cli: Any) -> None:
        return None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        (config,) = self.config
        assert isinstance(config, SQLAlchemyAsyncConfig)
        close_session = config.before_send_handler
        assert callable(close_session)
        config.before_send_handler = unit_of_work.before_send_handler(close_session)
        app_config = super().on_app_init(app_config)

        def provide_session(state: State, scope: Scope) -> AsyncSession:
            return unit_of_work.remember_request_session(scope, config.provide_session(state, scope))

        app_config.dependencies[config.session_dependency_key] = Provide(provide_session, sync_to_thread=False)
        return app_config


def route_handlers() -> list[Any]:
    """Every controller of every domain; a domain adds its controllers here."""
    from app.domain.accounts.controllers import AuthController, MeController, UserAdminController
    from app.domain.analytics.controllers import AnalyticsController
    from app.domain.audits.controllers import AuditController
    from app.domain.budgets.controllers import BudgetController
    from app.domain.chat.controllers import ChatController
    from app.domain.documents.controllers import DocumentController, ProjectDocumentController
    from app.domain.exports.controllers import start_export_job
    from app.domain.generation.controllers import start_generate_job
    from app.domain.jobs.controllers import jobs_route_handlers
    from app.domain.kb.controllers import kb_route_handlers
    from app.domain.projects.controllers import ProjectController
    from app.domain.system.controllers import MetricsController, SystemController

    handlers: list[Any] = [SystemController, MetricsController]
    handlers += [AuthController, MeController, UserAdminController, ProjectController, BudgetController]
    handlers += [ProjectDocumentController, DocumentController, ChatController]
    handlers += jobs_route_handlers()
    handlers += [AuditController, *kb_route_handlers()]
    handlers += [start_export_job, start_generate_job]
    handlers += [AnalyticsController]
    return handlers


def app_dependencies() -> dict[str, Provide]:
    """Dependencies every handler may ask for: `current_user`, `redis`, `settings`, the read sources."""
    from app.domain.accounts.deps import provide_current_user, provide_redis, provide_settings
    from app.domain.budgets.reads import provide_position_reads
    from app.domain.projects.reads import provide_project_reads

    return {
        "current_user": Provide(provide_current_user, sync_to_thread=False),
        "redis": Provide(provide_redis, sync_to_thread=False),
        "settings": Provide(provide_settings, sync_to_thread=False),
        # Read sources (PostgreSQL; a plug-in may replace them, see extension_plugins).
        "project_reads": Provide(provide_project_reads, sync_to_thread=False),
        "position_reads": Provide(provide_position_reads, sync_to_thread=False),
    }


def live_work_plugins(settings: Settings) -> list[Any]:
    """Background jobs (`job_queues`, /saq) and live events (`events`, /ws)."""
    from app.domain.jobs.plugin import JobsPlugin
    from app.domain.realtime.plugin import RealtimePlugin

    return [JobsPlugin(settings), RealtimePlugin(settings)]


def extension_plugins(settings: Settings) -> list[Any]:
    """Capabilities the core does not import. Removing one: delete its folder and its line here."""
    from app.domain.filestore.plugin import FileStorePlugin  # the old file store, until the cut-over

    return [FileStorePlugin(settings)]


def install_extensions(settings: Settings) -> None:
    """For processes without a Litestar app (the worker): what each extension hooks into the core."""
    for plugin in extension_plugins(settings):
        plugin.install()


def build_app(settings: Settings | None = None) -> Litestar:
    from app.domain.system.openapi import (
        HonestJsonRenderPlugin,
        HonestScalarRenderPlugin,
        HonestSwaggerRenderPlugin,
        allow_lists_every_method,
    )

    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def redis_lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.redis = create_redis(settings)
        try:
            async with near_cache.running(app.state.redis, settings) as near, metrics.flushing():
                app.state[near_cache.NEAR_CACHE_STATE] = near
                yield
        finally:
            await app.state.redis.aclose()

    # Each app gets its own engine: tests build many apps, each on its own event loop, and pooled
    # asyncpg connections must not cross loops. `alchemy_config()` then answers this app's config.
    lib_db.alchemy_config.cache_clear()
    return Litestar(
        route_handlers=route_handlers(),
        plugins=[
            DatabasePlugin(config=alchemy_config()),
            SQLAlchemySerializationPlugin(),
            ProblemDetailsPlugin(problem_details_config()),
            *live_work_plugins(settings),
            *extension_plugins(settings),
        ],
        # Plain ASGI functions first (no task groups); then the gate: session, rate limit (per user, per
        # address when anonymous) and the route's cached entry from the near-cache, or in one Redis call;
        # then no NUL in a query string (after the gate, where it was a guard: a 401 or 429 comes first).
        middleware=[
            request_id_middleware,
            request_metrics_middleware,
            request_gate_middleware(settings),
            refuse_unstorable_query,
        ],
        dependencies=app_dependencies(),
        # Edge bounds for every request: JSON size/depth/NUL (app.lib.input_bounds).
        request_class=BoundedRequest,
        before_send=[add_request_id_header, allow_lists_every_method, forbid_storing],
        lifespan=[redis_lifespan],
        openapi_config=OpenAPIConfig(
            title="concrete-agent",
            version="0.1.0",
            description="Construction-budget audit service",
            path="/schema",
            # The document as the API behaves: problem+json errors, every status (app.domain.system.openapi).
            render_plugins=[
                HonestScalarRenderPlugin(),
                HonestJsonRenderPlugin(),
                HonestSwaggerRenderPlugin(path="/swagger"),
            ],
        ),
        # Level 1, not Litestar's default 9: a 50-position page (33.5 kB of JSON) takes ~1.5 ms of the
        # API's CPU at 9 and ~0.23 ms at 1, for 12 % more bytes on the wire (README, "The hot path").
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=COMPRESS_FROM, gzip_compress_level=GZIP_LEVEL
        ),
        request_max_body_size=settings.UPLOAD_MAX_BYTES + 1024 * 1024,
        debug=settings.DEBUG,
        # Logging is structlog's (app.lib.logging); Litestar's default adds a queue-listener thread per app.
        logging_config=None,
        state=State({"settings": settings}),
    )
