"""GET /api/kb/search through the knowledge-base cache (Redis, then kb_cache, then the catalogue)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.models import KBCache
from app.domain.kb.cache import KnowledgeCache, query_hash
from app.domain.kb.services import KnowledgeBase
from app.lib.redis import create_redis
from tests.support.api import ApiUser, cache_events
from tests.support.job_runs import Harness


async def _access_count(harness: Harness, search_type: str, query: str) -> int:
    rows = await harness.fetch(
        select(KBCache.access_count).where(KBCache.query_hash == query_hash(search_type, f"search:{query}"))
    )
    return int(rows[0][0]) if rows else 0


async def test_second_search_is_a_cache_hit_and_counts_access(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    hits_before, misses_before = cache_events("kb")

    first = await client.get("/api/kb/search", params={"q": "2723", "type": "code"}, headers=api_user.headers)
    count_after_first = await _access_count(harness, "code", "2723")
    second = await client.get("/api/kb/search", params={"q": " 2723 ", "type": "code"}, headers=api_user.headers)

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["cache"] == "miss" and body["type"] == "code"
    assert {"272325", "272315"} <= {item["code"] for item in body["items"]}
    assert all(item["code"].startswith("2723") for item in body["items"])
    assert second.json()["cache"] == "redis"
    assert second.json()["items"] == body["items"]
    assert await _access_count(harness, "code", "2723") == count_after_first + 1
    hits, misses = cache_events("kb")
    assert hits > hits_before and misses > misses_before


async def test_results_are_paginated_from_the_cached_answer(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    whole = await client.get(
        "/api/kb/search", params={"q": "beton", "type": "catalog", "limit": 500}, headers=api_user.headers
    )
    page = await client.get(
        "/api/kb/search", params={"q": "beton", "type": "catalog", "limit": 2, "offset": 1}, headers=api_user.headers
    )

    assert whole.status_code == 200, whole.text
    everything = whole.json()
    assert everything["total"] >= 3 and all("beton" in item["title"].lower() for item in everything["items"])
    assert page.json()["items"] == everything["items"][1:3]
    assert (page.json()["limit"], page.json()["offset"], page.json()["total"]) == (2, 1, everything["total"])


async def test_standard_and_price_searches(client: AsyncTestClient[Litestar], api_user: ApiUser) -> None:
    standard = await client.get("/api/kb/search", params={"q": "XD3", "type": "standard"}, headers=api_user.headers)
    strength = await client.get("/api/kb/search", params={"q": "C25/30", "type": "standard"}, headers=api_user.headers)
    price = await client.get("/api/kb/search", params={"q": "výztuž", "type": "price"}, headers=api_user.headers)

    national = next(item for item in standard.json()["items"] if item["details"]["default_table"])
    assert national["code"] == "XD3" and national["details"]["minimum_strength"] == "C30/37"
    national_strength = strength.json()["items"][0]
    assert "XD3" in national_strength["details"]["too_weak_for"]
    assert "XC4" in national_strength["details"]["satisfies"]
    bands = [item for item in price.json()["items"] if item["kind"] == "price_band"]
    assert bands and bands[0]["details"]["band_kind"] == "reinforcement"
    assert bands[0]["details"]["min_price"] == "28000"


async def test_search_needs_a_session_and_a_known_type(client: AsyncTestClient[Litestar], api_user: ApiUser) -> None:
    client.cookies.clear()  # the login of `api_user` left its session cookie in the client
    anonymous = await client.get("/api/kb/search", params={"q": "beton"})
    wrong_type = await client.get("/api/kb/search", params={"q": "beton", "type": "x"}, headers=api_user.headers)
    empty = await client.get("/api/kb/search", params={"q": ""}, headers=api_user.headers)

    assert anonymous.status_code == 401
    assert wrong_type.status_code == 400
    assert empty.status_code == 400


async def test_without_redis_postgresql_answers_alone(harness: Harness, settings: Settings) -> None:
    import msgspec

    dead = create_redis(msgspec.structs.replace(settings, REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5))
    try:
        knowledge = KnowledgeBase(harness.engine, dead, cache=KnowledgeCache(harness.engine, dead))
        first = await knowledge.search("code", "11130", limit=10, offset=0)
        second = await knowledge.search("code", "11130", limit=10, offset=0)
        items = await knowledge.catalog_items(["11130", "121151113"])
    finally:
        await dead.aclose()

    assert [hit.code for hit in first.items][:1] == ["11130"]
    assert second.cache == "postgres" and second.items == first.items
    assert set(items) == {"11130", "121151113"}
