"""Request and response bodies of the accounts API."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import msgspec

from app.lib.schemas import ModelView

EmailText = Annotated[str, msgspec.Meta(min_length=3, max_length=255)]
PasswordText = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class RegisterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: EmailText
    password: PasswordText
    full_name: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class VerifyEmailRequest(msgspec.Struct, kw_only=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class LoginRequest(msgspec.Struct, kw_only=True):
    email: EmailText
    password: PasswordText


class PasswordChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: PasswordText
    new_password: PasswordText


class UserAdminUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """PATCH by an administrator: suspend / re-activate, or change the plan role."""

    status: Literal["active", "suspended"] | msgspec.UnsetType = msgspec.UNSET
    role: Literal["user", "pro", "business", "enterprise", "admin"] | msgspec.UnsetType = msgspec.UNSET


class UserRead(ModelView, kw_only=True):
    id: uuid.UUID
    email: str
    full_name: str | None
    role: str
    status: str
    email_verified: bool
    last_login_at: datetime.datetime | None
    created_at: datetime.datetime


class LoginResponse(msgspec.Struct, kw_only=True):
    token: str
    expires_at: datetime.datetime
    user: UserRead
