"""Jobs in an API process: the `job_queues` dependency and the SAQ monitor at /saq (administrators).

The monitor is litestar-saq's, pointed at our three queues; no worker runs inside the API (workers
are `app worker` processes).
"""

from __future__ import annotations

from typing import Any

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from app.config import Settings
from app.domain.jobs.queues import JobQueues, bind_job_queues, unbind_job_queues

SAQ_WEB_PATH = "/saq"


class JobsPlugin(InitPluginProtocol):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queues = JobQueues(settings)

    def provide_job_queues(self) -> JobQueues:
        return self.queues

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.dependencies["job_queues"] = Provide(self.provide_job_queues, sync_to_thread=False)
        app_config.signature_namespace["JobQueues"] = JobQueues
        if self.settings.SAQ_WEB_ENABLED:
            self._mount_monitor(app_config)
        app_config.on_startup.append(self.on_startup)
        app_config.on_shutdown.append(self.on_shutdown)
        return app_config

    def _mount_monitor(self, app_config: AppConfig) -> None:
        from litestar_saq import SAQConfig, SAQPlugin

        from app.domain.accounts.guards import requires_admin

        guards: list[Any] = [requires_admin]
        saq = SAQPlugin(
            SAQConfig(
                queue_instances=dict(self.queues.by_saq_name()),
                web_enabled=True,
                web_path=SAQ_WEB_PATH,
                web_guards=guards,
                use_server_lifespan=False,
            )
        )
        saq.on_app_init(app_config)

    async def on_startup(self) -> None:
        bind_job_queues(self.queues)

    async def on_shutdown(self) -> None:
        unbind_job_queues(self.queues)
        await self.queues.close()
