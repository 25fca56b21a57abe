"""Live events in an API process: the `events` dependency, the channels plugin on Redis, and `/ws`.

`events: EventPublisher` in any handler publishes through Redis (app.lib.redis_events), so a socket
on another API process gets the event too. The channels plugin (a RedisChannelsPubSubBackend with
key_prefix = REDIS_NAMESPACE; pub/sub ignores key prefixes, so the channel names carry the namespace
themselves, see app.domain.realtime.channels) fans events out to this process's sockets.
"""

from __future__ import annotations

import contextlib

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from app.config import Settings
from app.lib.events import EventPublisher
from app.lib.redis import create_redis
from app.lib.redis_events import RedisEventPublisher


class RealtimePlugin(InitPluginProtocol):
    def __init__(self, settings: Settings) -> None:
        from app.domain.realtime.channels import LiveChannelsPlugin, NamespacePubSubBackend, SocketSubscriber

        self.settings = settings
        # Its own pool: the pub/sub connection is held for the life of the process.
        self.redis = create_redis(settings)
        self.events = RedisEventPublisher(self.redis, settings.REDIS_NAMESPACE)
        self.channels = LiveChannelsPlugin(
            backend=NamespacePubSubBackend(redis=self.redis, key_prefix=settings.REDIS_NAMESPACE),
            arbitrary_channels_allowed=True,
            subscriber_class=SocketSubscriber,
            subscriber_max_backlog=settings.WEBSOCKET_BACKLOG,
        )

    def provide_events(self) -> EventPublisher:
        return self.events

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        from app.domain.realtime.channels import LiveChannelsPlugin
        from app.domain.realtime.sockets import live_events

        app_config.dependencies["events"] = Provide(self.provide_events, sync_to_thread=False)
        app_config.state["events"] = self.events  # after-commit live events (app.lib.unit_of_work)
        app_config.signature_namespace.update(EventPublisher=EventPublisher, LiveChannelsPlugin=LiveChannelsPlugin)
        if self.settings.WEBSOCKET_ENABLED:
            self.channels.on_app_init(app_config)
            app_config.route_handlers.append(live_events)
        app_config.on_shutdown.append(self.close)
        return app_config

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.redis.aclose()
            await self.redis.connection_pool.disconnect()
