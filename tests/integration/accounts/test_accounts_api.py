"""Accounts over HTTP: register, verify, login, logout, /api/me, sessions in Redis, suspension, CLI."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import time

import msgspec
import pytest
import redis.asyncio as aioredis
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.models import OutboxMessage, User
from app.domain.accounts.cli import users_group
from tests.support.api import (
    DEFAULT_PASSWORD,
    ApiUser,
    create_project,
    login,
    register,
    run_sql,
    signed_in_user,
    unique_email,
    verification_token,
)


async def _redis(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(settings.redis_url)


# Registration


async def test_register_creates_pending_user_and_queues_verification(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    email = unique_email()
    user = await register(client, email=f"  {email.upper()} ")
    assert user["email"] == email
    assert user["status"] == "pending"
    assert user["email_verified"] is False
    assert user["role"] == "user"
    assert "password" not in str(user)
    rows = await run_sql(settings, select(User.password_hash, User.verification_token_hash).where(User.email == email))
    password_hash, token_hash = rows[0]
    assert password_hash.startswith("$argon2")
    token = await verification_token(settings, email)
    assert token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is stored


async def test_register_refuses_the_same_email_in_other_case(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email()
    await register(client, email=email)
    again = await client.post("/api/auth/register", json={"email": email.upper(), "password": DEFAULT_PASSWORD})
    assert again.status_code == 409
    assert again.json()["errors"] == [{"field": "email", "message": "is already registered"}]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "at least 10 characters"),
        ("x1" * 100, "at most 128 characters"),
        ("aaaaaaaaaaaa", "repeat only a few characters"),
        ("onlyletterspassword", "mix letters with digits"),
    ],
)
async def test_register_refuses_weak_or_too_long_passwords(
    client: AsyncTestClient[Litestar], password: str, message: str
) -> None:
    response = await client.post("/api/auth/register", json={"email": unique_email(), "password": password})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert any(e["field"] == "password" and message in e["message"] for e in errors), errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": DEFAULT_PASSWORD}, "email"),
        ({"password": DEFAULT_PASSWORD}, "email"),
        ({"email": "a@b.cz"}, "password"),
    ],
)
async def test_register_validation_names_the_field(
    client: AsyncTestClient[Litestar], body: dict[str, str], field: str
) -> None:
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(field in (e["field"] + e["message"]) for e in errors), errors


# Verification


async def test_verify_email_activates_once(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    email = unique_email()
    await register(client, email=email)
    token = await verification_token(settings, email)
    verified = await client.post("/api/auth/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "active"
    assert verified.json()["email_verified"] is True
    again = await client.post("/api/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json()["errors"][0]["field"] == "token"


async def test_the_verification_message_names_its_user(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    # Its user_id was NULL: the user's id was only made at the flush, after the message took it.
    user = await register(client, email=unique_email())
    rows = await run_sql(settings, select(OutboxMessage.user_id).where(OutboxMessage.recipient == user["email"]))
    assert [str(row[0]) for row in rows] == [user["id"]]


async def test_verify_email_refuses_unknown_token(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/api/auth/verify-email", json={"token": "nope"})
    assert response.status_code == 400


async def test_verification_updates_live_sessions(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    user = await signed_in_user(client)
    token = await verification_token(settings, user.email)
    assert (await client.post("/api/auth/verify-email", json={"token": token})).status_code == 200
    from app.domain.accounts.sessions import resolve_session

    redis = await _redis(settings)
    try:
        session_user = await resolve_session(redis, user.token)
    finally:
        await redis.aclose()
    assert session_user is not None and session_user.status == "active"


# Login and sessions


async def test_login_opens_a_session_in_redis(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    user = await register(client)
    before = datetime.datetime.now(datetime.UTC)
    response = await client.post("/api/auth/login", json={"email": user["email"].upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    expires_at = datetime.datetime.fromisoformat(body["expires_at"])
    assert abs((expires_at - before).total_seconds() - settings.SESSION_TTL_SECONDS) < 60
    assert body["user"]["last_login_at"] is not None
    assert "ca_session" in response.headers.get("set-cookie", "")
    redis = await _redis(settings)
    try:
        key = f"session:{hashlib.sha256(body['token'].encode()).hexdigest()}"
        assert await redis.exists(key)
        assert not await redis.exists(f"session:{body['token']}")  # the raw token is never a key
        ttl = await redis.ttl(key)
        assert settings.SESSION_TTL_SECONDS - 60 < ttl <= settings.SESSION_TTL_SECONDS
        assert await redis.sismember(f"user:{user['id']}:sessions", key.removeprefix("session:"))
    finally:
        await redis.aclose()


async def test_pending_user_can_log_in_and_work(client: AsyncTestClient[Litestar]) -> None:
    user = await signed_in_user(client)
    me = await client.get("/api/me", headers=user.headers)
    assert me.json()["status"] == "pending"
    await create_project(client, user)


async def test_login_failure_does_not_reveal_whether_the_email_exists(client: AsyncTestClient[Litestar]) -> None:
    user = await register(client)
    wrong_password = await client.post("/api/auth/login", json={"email": user["email"], "password": "Wrong-pass-1"})
    unknown_email = await client.post("/api/auth/login", json={"email": unique_email(), "password": "Wrong-pass-1"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]


async def test_unknown_email_costs_a_password_hash_too(client: AsyncTestClient[Litestar]) -> None:
    """Comparable timing: both failures verify an argon2 hash (the unknown one against a dummy)."""
    user = await register(client)

    async def timed(email: str) -> float:
        start = time.perf_counter()
        await client.post("/api/auth/login", json={"email": email, "password": "Wrong-pass-1"})
        return time.perf_counter() - start

    known = min([await timed(user["email"]) for _ in range(3)])
    unknown = min([await timed(unique_email()) for _ in range(3)])
    assert unknown > known * 0.5, (known, unknown)


async def test_suspended_user_gets_403_on_login_and_loses_sessions(
    client: AsyncTestClient[Litestar], admin_user: ApiUser
) -> None:
    user = await signed_in_user(client)
    second_token = await login(client, user.email)
    suspended = await client.patch(
        f"/api/admin/users/{user.id}", json={"status": "suspended"}, headers=admin_user.headers
    )
    assert suspended.status_code == 200, suspended.text
    for token in (user.token, second_token):
        assert (await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    refused = await client.post("/api/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 403
    wrong = await client.post("/api/auth/login", json={"email": user.email, "password": "Wrong-pass-1"})
    assert wrong.status_code == 401  # suspension is only told to who knows the password
    active = await client.patch(f"/api/admin/users/{user.id}", json={"status": "active"}, headers=admin_user.headers)
    assert active.status_code == 200
    assert await login(client, user.email)


async def test_user_administration_is_for_administrators(client: AsyncTestClient[Litestar], api_user: ApiUser) -> None:
    other = await signed_in_user(client)
    response = await client.patch(
        f"/api/admin/users/{other.id}", json={"status": "suspended"}, headers=api_user.headers
    )
    assert response.status_code == 403
    assert (await client.get("/api/me", headers=other.headers)).status_code == 200


@pytest.mark.parametrize("change", [{"status": "suspended"}, {"role": "user"}])
async def test_an_administrator_cannot_lock_themselves_out(
    client: AsyncTestClient[Litestar], admin_user: ApiUser, change: dict[str, str]
) -> None:
    # Suspending or demoting oneself ended the only administrator's access for good (no API could undo it).
    response = await client.patch(f"/api/admin/users/{admin_user.id}", json=change, headers=admin_user.headers)

    assert response.status_code == 409, response.text
    assert [error["field"] for error in response.json()["errors"]] == list(change)
    me = await client.get("/api/me", headers=admin_user.headers)
    assert me.status_code == 200 and me.json()["role"] == "admin" and me.json()["status"] != "suspended"
    unchanged = await client.patch(
        f"/api/admin/users/{admin_user.id}", json={"role": "admin", "status": "active"}, headers=admin_user.headers
    )
    assert unchanged.status_code == 200, unchanged.text


async def test_a_role_change_reaches_live_sessions(
    client: AsyncTestClient[Litestar], settings: Settings, admin_user: ApiUser
) -> None:
    user = await signed_in_user(client)
    changed = await client.patch(f"/api/admin/users/{user.id}", json={"role": "pro"}, headers=admin_user.headers)
    assert changed.status_code == 200
    assert changed.json()["role"] == "pro"
    from app.domain.accounts.sessions import resolve_session

    redis = await _redis(settings)
    try:
        session_user = await resolve_session(redis, user.token)
    finally:
        await redis.aclose()
    assert session_user is not None and session_user.role == "pro"
    refused = await client.patch(f"/api/admin/users/{user.id}", json={"role": "king"}, headers=admin_user.headers)
    assert refused.status_code == 400


async def test_logout_ends_only_this_session(client: AsyncTestClient[Litestar]) -> None:
    user = await signed_in_user(client)
    other_token = await login(client, user.email)
    response = await client.post("/api/auth/logout", headers=user.headers)
    assert response.status_code == 204
    assert (await client.get("/api/me", headers=user.headers)).status_code == 401
    assert (await client.get("/api/me", headers={"Authorization": f"Bearer {other_token}"})).status_code == 200


async def test_me_returns_the_current_user(client: AsyncTestClient[Litestar], api_user: ApiUser) -> None:
    response = await client.get("/api/me", headers=api_user.headers)
    assert response.status_code == 200
    assert response.json()["id"] == api_user.id
    assert response.json()["email"] == api_user.email


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}],
)
async def test_me_without_a_valid_session_is_401(client: AsyncTestClient[Litestar], headers: dict[str, str]) -> None:
    response = await client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_session_cookie_authenticates(app: Litestar) -> None:
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as browser:
        user = await register(browser)
        response = await browser.post("/api/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD})
        assert response.status_code == 200
        me = await browser.get("/api/me")  # no Authorization header: the cookie set at login
        assert me.status_code == 200, me.text
        assert me.json()["email"] == user["email"]
        assert (await browser.post("/api/auth/logout")).status_code == 204
        assert (await browser.get("/api/me")).status_code == 401


async def test_the_session_cookie_counts_only_from_the_services_own_pages(app: Litestar) -> None:
    """A page of another origin on the same site (another port of the host, a sibling subdomain) gets the
    Lax cookie sent with its POST; a body of no declared type needs no CORS preflight, so it could create
    projects or sign the user out. Browsers say where a request comes from in Origin."""
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as browser:
        user = await register(browser)
        response = await browser.post("/api/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD})
        assert response.status_code == 200
        body = msgspec.json.encode({"name": "Z cizí stránky", "workflow": "workflow_a"})
        for origin in ("https://testserver.local:3000", "https://evil.testserver.local", "null"):
            foreign = {"Origin": origin}
            created = await browser.post("/api/projects", content=body, headers=foreign)
            assert created.status_code == 401, (origin, created.text)
            assert (await browser.post("/api/auth/logout", headers=foreign)).status_code == 401
        assert (await browser.get("/api/projects")).json()["total"] == 0
        own = {"Origin": "https://testserver.local"}
        assert (await browser.post("/api/projects", content=body, headers=own)).status_code == 201
        assert (await browser.get("/api/me")).status_code == 200  # no Origin: a navigation, or no browser
        token = response.json()["token"]
        bearer = {"Origin": "https://evil.testserver.local", "Authorization": f"Bearer {token}"}
        assert (await browser.get("/api/me", headers=bearer)).status_code == 200  # a token is no ambient credential


async def test_public_routes_need_no_session(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/health", "/ready", "/schema/openapi.json"):
        assert (await client.get(path)).status_code == 200, path


# The `app users create` command


def test_cli_creates_the_first_administrator(settings: Settings) -> None:
    email = unique_email("operator")
    result = CliRunner().invoke(users_group, ["create", "--admin", email, "--password", DEFAULT_PASSWORD])
    assert result.exit_code == 0, result.output
    rows = asyncio.run(
        run_sql(settings, select(User.role, User.status, User.email_verified).where(User.email == email))
    )
    assert rows == [("admin", "active", True)]


def test_cli_refuses_a_weak_password() -> None:
    result = CliRunner().invoke(users_group, ["create", unique_email(), "--password", "short"])
    assert result.exit_code != 0
    assert "password" in result.output


async def test_the_session_cookie_is_secure_only_over_https(app: Litestar, settings: Settings) -> None:
    """Plain HTTP on a LAN host keeps its login; https (the request's or PUBLIC_URL's) gets `Secure`."""
    async with AsyncTestClient(app=app, base_url="http://budget.lan:8000") as plain:
        user = await register(plain)
        response = await plain.post("/api/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD})
        assert response.status_code == 200, response.text
        cookie = response.headers["set-cookie"]
        assert "ca_session=" in cookie and "HttpOnly" in cookie and "Secure" not in cookie
        assert (await plain.get("/api/me")).status_code == 200  # the cookie alone signs the browser in
        response = await plain.post(
            "https://budget.example.cz/api/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD}
        )
        assert "Secure" in response.headers["set-cookie"]
    assert settings.secure_cookies("http") is False
    assert msgspec.structs.replace(settings, PUBLIC_URL="https://budget.example.cz").secure_cookies("http") is True
