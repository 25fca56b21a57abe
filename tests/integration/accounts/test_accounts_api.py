"""Accounts over HTTP: register, verify, login, logout, /api/me, sessions, suspension."""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.models import User
from tests.support.api import (
    DEFAULT_PASSWORD,
    ApiUser,
    login,
    register,
    run_sql,
    signed_in_user,
    unique_email,
    verification_token,
)


async def test_register_creates_pending_user_and_queues_verification(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    email = unique_email()
    user = await register(client, email=f"  {email.upper()} ")
    assert user["email"] == email
    assert user["status"] == "pending"
    assert user["email_verified"] is False
    assert "password" not in str(user)
    rows = await run_sql(settings, select(User.password_hash, User.verification_token_hash).where(User.email == email))
    password_hash, token_hash = rows[0]
    assert password_hash.startswith("$argon2")
    assert token_hash and len(token_hash) == 64
    token = await verification_token(settings, email)
    assert token_hash != token  # only the hash is stored


async def test_smoke(client: AsyncTestClient[Litestar]) -> None:
    user = await signed_in_user(client)
    me = await client.get("/api/me", headers=user.headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == user.email
