"""HTTP face of the accounts domain: register, verify, login, logout, me, user administration."""

from __future__ import annotations

import uuid
from typing import Any, cast

import msgspec
from litestar import Controller, MediaType, Request, Response, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts.cache import PREFETCH_ME, me_key
from app.domain.accounts.guards import requires_admin
from app.domain.accounts.schemas import (
    LoginRequest,
    LoginResponse,
    PasswordChange,
    RegisterRequest,
    UserAdminUpdate,
    UserRead,
    VerifyEmailRequest,
)
from app.domain.accounts.services import UserService
from app.domain.accounts.sessions import SESSION_COOKIE, SessionUser
from app.lib.cache import CACHE_PREFETCH_OPT, prefetched

AUTH_GROUP = {"rate_limit_group": "auth"}


def _users_service_dependencies() -> dict[str, Provide]:
    from app.domain.accounts.deps import user_service_dependencies

    return user_service_dependencies()


class AuthController(Controller):
    path = "/api/auth"
    tags = ["accounts"]
    dependencies = _users_service_dependencies()

    @post("/register", exclude_from_auth=True, opt=AUTH_GROUP, status_code=HTTP_201_CREATED)
    async def register(
        self,
        data: JSONBody[RegisterRequest],
        users_service: NamedDependency[UserService],
        settings: NamedDependency[Settings],
    ) -> UserRead:
        """Create an account (status `pending`); the verification token goes to the outbox."""
        user, _ = await users_service.register(
            email=data.email, password=data.password, full_name=data.full_name, settings=settings
        )
        return UserRead.from_model(user)

    @post("/verify-email", exclude_from_auth=True, opt=AUTH_GROUP, status_code=HTTP_200_OK)
    async def verify_email(
        self,
        data: JSONBody[VerifyEmailRequest],
        users_service: NamedDependency[UserService],
        redis: NamedDependency[Redis],
    ) -> UserRead:
        """Confirm the e-mail address with the token from the verification message."""
        return UserRead.from_model(await users_service.verify_email(data.token, redis))

    @post("/login", exclude_from_auth=True, opt=AUTH_GROUP, status_code=HTTP_200_OK)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        users_service: NamedDependency[UserService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> Response[LoginResponse]:
        """Open a session: the token in the body (Bearer use) and as an HttpOnly cookie (browsers)."""
        user, token, expires_at = await users_service.login(
            email=data.email, password=data.password, redis=redis, settings=settings
        )
        body = LoginResponse(token=token, expires_at=expires_at, user=UserRead.from_model(user))
        cookie = Cookie(
            key=SESSION_COOKIE,
            value=token,
            max_age=settings.SESSION_TTL_SECONDS,
            httponly=True,
            secure=settings.secure_cookies(request.url.scheme),
            samesite="lax",
        )
        return Response(body, cookies=[cookie])

    @post("/logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(
        self,
        current_user: NamedDependency[SessionUser],
        users_service: NamedDependency[UserService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> Response[None]:
        """End this session at once: the token stops working on the next request, in every API
        process, and the session's open WebSockets close."""
        await users_service.logout(current_user, redis=redis, namespace=settings.REDIS_NAMESPACE)
        return Response(
            None, status_code=HTTP_204_NO_CONTENT, cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0)]
        )


class MeController(Controller):
    path = "/api/me"
    tags = ["accounts"]
    dependencies = _users_service_dependencies()

    @get(opt={CACHE_PREFETCH_OPT: PREFETCH_ME})
    async def me(
        self,
        request: Request[Any, Any, Any],
        current_user: NamedDependency[SessionUser],
        users_service: NamedDependency[UserService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> Response[UserRead]:
        """The signed-in user (from the cache: the request gate answers a hit itself)."""
        read = prefetched(request.scope, me_key(current_user.id))  # what the gate read with the session
        body = await users_service.me(current_user, redis=redis, ttl_seconds=settings.CACHE_TTL_SECONDS, read=read)
        return cast("Response[UserRead]", Response(body, media_type=MediaType.JSON))

    @post("/password", status_code=HTTP_204_NO_CONTENT, opt=AUTH_GROUP)
    async def change_password(
        self,
        data: JSONBody[PasswordChange],
        current_user: NamedDependency[SessionUser],
        users_service: NamedDependency[UserService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> None:
        """Change the password (the current one is required). Every other session of the account ends
        and its open WebSockets close; this session stays signed in."""
        await users_service.change_password(
            current_user,
            current_password=data.current_password,
            new_password=data.new_password,
            redis=redis,
            settings=settings,
        )


class UserAdminController(Controller):
    """Operators: suspend or re-activate an account, change its role (sessions follow at once)."""

    path = "/api/admin/users"
    tags = ["administration"]
    guards = [requires_admin]
    dependencies = _users_service_dependencies()

    @patch("/{user_id:uuid}")
    async def update_user(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserAdminUpdate],
        current_user: NamedDependency[SessionUser],
        users_service: NamedDependency[UserService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> UserRead:
        user = await users_service.update_account(
            user_id,
            actor_id=current_user.id,
            redis=redis,
            namespace=settings.REDIS_NAMESPACE,
            status=None if isinstance(data.status, msgspec.UnsetType) else data.status,
            role=None if isinstance(data.role, msgspec.UnsetType) else data.role,
        )
        return UserRead.from_model(user)
