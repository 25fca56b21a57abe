"""GET /api/analytics/projects: own projects live; the materialized view for administrators."""

from __future__ import annotations

import datetime

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from app.config import Settings
from tests.support.api import create_project, make_admin, run_sql, signed_in_user


def _today() -> str:
    return datetime.datetime.now(datetime.UTC).date().isoformat()


async def test_users_see_their_own_days_and_admins_the_view(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    alice = await signed_in_user(client)
    bob = await signed_in_user(client)
    for _ in range(3):
        await create_project(client, alice)

    own = await client.get("/api/analytics/projects", headers=alice.headers)
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["scope"] == "own"
    assert body["items"] == [{"day": _today(), "projects_created": 3, "projects_completed": 0, "average_cost": "0.00"}]
    # Someone else's projects are not counted, and asking for everything is refused, naming `scope`.
    other = await client.get("/api/analytics/projects", headers=bob.headers)
    assert other.json()["scope"] == "own"
    assert other.json()["items"] == []
    refused = await client.get("/api/analytics/projects", params={"scope": "all"}, headers=bob.headers)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in refused.json()["errors"]] == ["scope"]

    admin = await make_admin(client, settings)
    await run_sql(settings, text("REFRESH MATERIALIZED VIEW CONCURRENTLY project_analytics"))
    everything = await client.get("/api/analytics/projects", params={"scope": "all"}, headers=admin.headers)
    assert everything.json()["scope"] == "all"
    today = [item for item in everything.json()["items"] if item["day"] == _today()]
    assert today and today[0]["projects_created"] >= 3


async def test_bad_range_names_the_field(client: AsyncTestClient[Litestar]) -> None:
    alice = await signed_in_user(client)
    response = await client.get(
        "/api/analytics/projects", params={"since": "2026-02-01", "until": "2026-01-01"}, headers=alice.headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "since"


async def test_requires_a_session(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/api/analytics/projects")).status_code == 401
