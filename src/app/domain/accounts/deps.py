"""Dependency providers of the accounts domain (registered app-wide in server.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts.guards import current_session_user
from app.domain.accounts.services import UserService
from app.domain.accounts.sessions import SessionUser


def provide_current_user(request: Request[Any, Any, Any]) -> SessionUser:
    """`current_user: SessionUser` in any authenticated handler (the same object as `request.user`)."""
    return current_session_user(request)


def provide_redis(state: State) -> Redis:
    """`redis: Redis`: the process-wide client (a blocking pool, see app.lib.redis)."""
    redis: Redis = state.redis
    return redis


def provide_settings(state: State) -> Settings:
    """`settings: Settings`: the settings this app was built with (tests build apps with their own)."""
    settings: Settings = state.settings
    return settings


def user_service_dependencies() -> dict[str, Any]:
    from advanced_alchemy.extensions.litestar.providers import create_service_dependencies

    return create_service_dependencies(UserService, key="users_service")
