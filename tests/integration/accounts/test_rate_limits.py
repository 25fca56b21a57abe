"""Rate limits per user (per address when anonymous) and endpoint group, counted in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.config import Settings
from tests.support.api import (
    DEFAULT_PASSWORD,
    api_settings,
    build_test_app,
    csv_bytes,
    register,
    signed_in_user,
    text_bytes,
)


@pytest.fixture
async def limited_client(settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An app with tiny limits: 3 auth requests, 4 default requests, 1 upload per minute."""
    limited = api_settings(
        settings,
        str(tmp_path / "storage"),
        RATE_LIMIT_AUTH="3/minute",
        RATE_LIMIT_DEFAULT="4/minute",
        RATE_LIMIT_UPLOAD="1/minute",
    )
    redis = aioredis.Redis.from_url(settings.redis_url)
    await redis.delete(*[key async for key in redis.scan_iter("ratelimit:*")] or ["-"])
    await redis.aclose()
    async with AsyncTestClient(app=build_test_app(limited)) as client:
        yield client


async def test_repeated_logins_get_429_with_retry_after(limited_client: AsyncTestClient[Litestar]) -> None:
    body = {"email": "nobody@example.cz", "password": "Wrong-pass-1"}
    statuses = [(await limited_client.post("/api/auth/login", json=body)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    refused = await limited_client.post("/api/auth/login", json=body)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_limits_are_per_user_and_group(
    app: Litestar, limited_client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    # Users are made with the generous app: the limited one would count these auth calls.
    async with AsyncTestClient(app=app) as setup:
        first = await signed_in_user(setup)
        second = await signed_in_user(setup)
    statuses = [(await limited_client.get("/api/projects", headers=first.headers)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert (await limited_client.get("/api/projects", headers=second.headers)).status_code == 200
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        assert await redis.get(f"ratelimit:{first.id}:default") == b"5"
        assert await redis.ttl(f"ratelimit:{first.id}:default") > 0
    finally:
        await redis.aclose()
    # Another group keeps its own count: the upload group is still open for the first user.
    project = await limited_client.post(
        "/api/projects", json={"name": "P", "workflow": "workflow_a"}, headers=second.headers
    )
    assert project.status_code == 201
    upload = f"/api/projects/{project.json()['id']}/documents"
    first_upload = await limited_client.post(upload, files={"file": ("a.csv", csv_bytes())}, headers=second.headers)
    assert first_upload.status_code == 201, first_upload.text
    second_upload = await limited_client.post(upload, files={"file": ("b.txt", text_bytes())}, headers=second.headers)
    assert second_upload.status_code == 429


async def test_operations_routes_are_exempt(limited_client: AsyncTestClient[Litestar]) -> None:
    for _ in range(10):
        assert (await limited_client.get("/health")).status_code == 200


async def test_anonymous_requests_are_counted_per_address(limited_client: AsyncTestClient[Litestar]) -> None:
    user = await register(limited_client)
    assert (
        await limited_client.post("/api/auth/login", json={"email": user["email"], "password": DEFAULT_PASSWORD})
    ).status_code == 200
    await limited_client.post("/api/auth/verify-email", json={"token": "x"})
    assert (await limited_client.post("/api/auth/verify-email", json={"token": "x"})).status_code == 429


@pytest.mark.parametrize(
    ("limit", "requests", "fewest"),
    [
        (40, 60, 38),  # leases of 2 at a time, never topped up
        (400, 440, 360),  # leases of 20, topped up in the background at 5 left: up to 25 held per instance
    ],
)
async def test_leased_tokens_never_admit_more_than_the_limit_across_processes(
    app: Litestar, settings: Settings, tmp_path: Path, limit: int, requests: int, fewest: int
) -> None:
    """Two API instances lease tokens of one window and spend them without Redis: together they
    admit at most the limit, and at most what one instance holds fewer (stranded in the other)."""
    async with AsyncTestClient(app=app) as setup:
        user = await signed_in_user(setup)
        project = await setup.post("/api/projects", json={"name": "P", "workflow": "workflow_a"}, headers=user.headers)
    url = f"/api/projects/{project.json()['id']}"
    redis = aioredis.Redis.from_url(settings.redis_url)
    await redis.delete(f"ratelimit:{user.id}:default")  # what the generous set-up app leased
    await redis.aclose()
    limited = [
        api_settings(settings, str(tmp_path / name), RATE_LIMIT_DEFAULT=f"{limit}/minute", NEAR_CACHE_TTL_SECONDS=5)
        for name in ("a", "b")
    ]
    async with (
        AsyncTestClient(app=build_test_app(limited[0])) as first,
        AsyncTestClient(app=build_test_app(limited[1])) as second,
    ):
        statuses = []
        for index in range(requests):
            answer = await (first if index % 2 else second).get(url, headers=user.headers)
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert 1 <= int(answer.headers["retry-after"]) <= 60
    admitted = statuses.count(200)
    assert fewest <= admitted <= limit, statuses
    assert set(statuses) == {200, 429}


async def _sign_in_from(app: Litestar, address: str, email: str, password: str) -> httpx.Response:
    """A sign-in as a client at `address` (an in-process ASGI scope: nothing goes on the network)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        return await http.post("/api/auth/login", json={"email": email, "password": password})


async def test_failed_sign_ins_are_limited_per_account_whatever_the_address(
    app: Litestar, settings: Settings, tmp_path: Path
) -> None:
    """The address limit alone let a client that changes its address (an IPv6 /64 holds 2^64 of them)
    guess one account's password without end: failed sign-ins also count per account, so after the
    limit the account answers 429 in that window from any address, the right password too (or it
    would tell which guess was right); other accounts are not touched, and successful sign-ins
    count nothing."""
    async with AsyncTestClient(app=app) as setup:
        victim = await register(setup)
        bystander = await register(setup)
    redis = aioredis.Redis.from_url(settings.redis_url)
    await redis.delete(*[key async for key in redis.scan_iter("ratelimit:*")] or ["-"])
    await redis.aclose()
    limited = build_test_app(api_settings(settings, str(tmp_path / "storage"), RATE_LIMIT_AUTH="3/minute"))
    async with limited.lifespan():
        for attempt in range(3):  # a correct sign-in counts nothing against the account
            answer = await _sign_in_from(limited, f"127.0.1.{attempt}", victim["email"], DEFAULT_PASSWORD)
            assert answer.status_code == 200, answer.text
        guesses = [
            (await _sign_in_from(limited, f"127.0.2.{n}", victim["email"], f"Guess-number-{n}")).status_code
            for n in range(5)
        ]
        assert guesses == [401, 401, 401, 429, 429]
        locked = await _sign_in_from(limited, "127.0.3.1", victim["email"], DEFAULT_PASSWORD)
        assert locked.status_code == 429, locked.text
        assert locked.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(locked.headers["retry-after"]) <= 60
        other = await _sign_in_from(limited, "127.0.3.2", bystander["email"], DEFAULT_PASSWORD)
        assert other.status_code == 200, other.text
