"""Assembles Litestar from settings: plugins, controllers, exception mapping, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyInitPlugin, SQLAlchemySerializationPlugin
from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins.problem_details import ProblemDetailsPlugin
from litestar.plugins.prometheus import PrometheusConfig

from app.config import Settings, get_settings
from app.lib.db import alchemy_config
from app.lib.errors import problem_details_config
from app.lib.logging import configure_logging
from app.lib.redis import create_redis
from app.lib.request_id import request_id_middleware


class DatabasePlugin(SQLAlchemyInitPlugin):
    """advanced-alchemy's plugin without its `database` CLI group: `app db` is ours (alembic in db/migrations)."""

    def on_cli_init(self, cli: Any) -> None:
        return None


def route_handlers() -> list[Any]:
    """Every controller of every domain; a domain adds its controllers here."""
    from app.domain.system.controllers import MetricsController, SystemController

    handlers: list[Any] = [SystemController, MetricsController]
    return handlers


def build_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL)

    @asynccontextmanager
    async def redis_lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.redis = create_redis(settings)
        try:
            yield
        finally:
            await app.state.redis.aclose()

    prometheus = PrometheusConfig(app_name="concrete_agent", group_path=True, exclude=["/metrics", "/health"])
    return Litestar(
        route_handlers=route_handlers(),
        plugins=[
            DatabasePlugin(config=alchemy_config()),
            SQLAlchemySerializationPlugin(),
            ProblemDetailsPlugin(problem_details_config()),
        ],
        middleware=[request_id_middleware, prometheus.middleware],
        lifespan=[redis_lifespan],
        openapi_config=OpenAPIConfig(
            title="concrete-agent",
            version="0.1.0",
            description="Construction-budget audit service",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048),
        request_max_body_size=settings.UPLOAD_MAX_BYTES + 1024 * 1024,
        debug=settings.DEBUG,
        state=None,
    )
