"""Concurrent edits of one project: serialised per project, numbered without gaps, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.domain.budgets.changes import ChangeSet, NewPosition
from tests.support.api import (
    ApiUser,
    InFlight,
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    signed_in_user,
)
from tests.support.budgets import budget_service

PARALLEL = 20


@dataclass
class World:
    client: httpx.AsyncClient
    user: ApiUser
    project: dict[str, Any]
    in_flight: InFlight


@asynccontextmanager
async def served_world(settings: Settings, tmp_path: Path) -> AsyncIterator[World]:
    """An app served in this event loop: concurrent requests really overlap (each with its own
    database session and connection), as behind a real server. Entered inside the test body: the
    app's lifespan must start and end in one task."""
    app = build_test_app(api_settings(settings, str(tmp_path / "storage")))
    in_flight = InFlight()
    async with concurrent_client(app, in_flight) as client:
        user = await signed_in_user(client)
        project = await create_project(client, user)
        yield World(client=client, user=user, project=project, in_flight=in_flight)


async def _seed(settings: Settings, project_id: str, count: int) -> list[str]:
    """Version 1 with `count` positions, made through the service other domains use (an import)."""
    async with budget_service(settings) as service:
        result = await service.create_version(
            project_id,  # type: ignore[arg-type]
            "import",
            {"source": "test"},
            changes=ChangeSet(
                added=[
                    NewPosition(
                        code=f"{i:06d}", description=f"Položka {i}", quantity=Decimal(1), unit_price=Decimal(100)
                    )
                    for i in range(count)
                ]
            ),
        )
        assert result.version.version == 1
        return [str(lineage) for lineage in result.position_ids]


async def test_parallel_patches_make_one_version_each_and_lose_nothing(settings: Settings, tmp_path: Path) -> None:
    async with served_world(settings, tmp_path) as world:
        await _parallel_patches(world, settings)


async def _parallel_patches(world: World, settings: Settings) -> None:
    client, api_user, project = world.client, world.user, world.project
    lineages = await _seed(settings, project["id"], PARALLEL)

    async def patch(index: int, lineage: str) -> Any:
        return await client.patch(
            f"/api/projects/{project['id']}/positions/{lineage}",
            json={"quantity": str(index + 2)},
            headers=api_user.headers,
        )

    responses = await asyncio.gather(*(patch(i, lineage) for i, lineage in enumerate(lineages)))
    assert [r.status_code for r in responses] == [200] * PARALLEL, [r.text for r in responses if r.status_code != 200]
    assert world.in_flight.peak > PARALLEL // 2  # the requests really overlapped
    numbers = sorted(r.json()["version"]["version"] for r in responses)
    assert numbers == list(range(2, PARALLEL + 2))

    latest = (await client.get(f"/api/projects/{project['id']}/positions", headers=api_user.headers)).json()
    quantities = {p["lineage_id"]: Decimal(p["quantity"]) for p in latest["items"]}
    assert quantities == {lineage: Decimal(i + 2) for i, lineage in enumerate(lineages)}
    expected_total = sum(Decimal(i + 2) * 100 for i in range(PARALLEL))
    state = (await client.get(f"/api/projects/{project['id']}", headers=api_user.headers)).json()
    assert state["current_version"] == PARALLEL + 1
    assert Decimal(state["total_cost"]) == expected_total
    versions = (await client.get(f"/api/projects/{project['id']}/versions", headers=api_user.headers)).json()
    assert versions["total"] == PARALLEL + 1
    # Each version differs from its predecessor by exactly one modified position.
    deltas = {v["version"]: Decimal(v["delta_cost"]) for v in versions["items"]}
    assert sum(deltas[n] for n in range(2, PARALLEL + 2)) == expected_total - PARALLEL * 100


async def test_parallel_edits_with_the_same_if_match_let_exactly_one_through(
    settings: Settings, tmp_path: Path
) -> None:
    async with served_world(settings, tmp_path) as world:
        await _same_if_match(world, settings)


async def _same_if_match(world: World, settings: Settings) -> None:
    client, api_user, project = world.client, world.user, world.project
    (lineage,) = await _seed(settings, project["id"], 1)

    async def patch(index: int) -> int:
        response = await client.patch(
            f"/api/projects/{project['id']}/positions/{lineage}",
            json={"notes": f"editor {index}"},
            headers={**api_user.headers, "If-Match": '"1"'},
        )
        return response.status_code

    statuses = await asyncio.gather(*(patch(i) for i in range(10)))
    assert sorted(statuses) == [200] + [412] * 9


async def test_parallel_patches_by_ids_from_one_list_all_succeed(settings: Settings, tmp_path: Path) -> None:
    """The issue's case: twenty clients hold the same list (ids of version 1) and edit twenty positions."""
    async with served_world(settings, tmp_path) as world:
        client, api_user, project = world.client, world.user, world.project
        await _seed(settings, project["id"], PARALLEL)
        listed = (await client.get(f"/api/projects/{project['id']}/positions", headers=api_user.headers)).json()
        ids = [p["id"] for p in listed["items"]]
        lineage_of = {p["id"]: p["lineage_id"] for p in listed["items"]}

        async def patch(index: int, position_id: str) -> Any:
            return await client.patch(
                f"/api/projects/{project['id']}/positions/{position_id}",
                json={"quantity": str(index + 2)},
                headers=api_user.headers,
            )

        responses = await asyncio.gather(*(patch(i, position_id) for i, position_id in enumerate(ids)))
        assert [r.status_code for r in responses] == [200] * PARALLEL, [r.text for r in responses]
        assert world.in_flight.peak > PARALLEL // 2
        assert sorted(r.json()["version"]["version"] for r in responses) == list(range(2, PARALLEL + 2))
        assert {r.json()["position"]["lineage_id"] for r in responses} == set(lineage_of.values())
        latest = (await client.get(f"/api/projects/{project['id']}/positions", headers=api_user.headers)).json()
        quantities = {p["lineage_id"]: Decimal(p["quantity"]) for p in latest["items"]}
        assert quantities == {lineage_of[position_id]: Decimal(i + 2) for i, position_id in enumerate(ids)}
