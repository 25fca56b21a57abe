"""Dual-write through the API: concurrent writes mirrored into the store (verify finds no
difference), then a "files_only restart" that reads the same answers from the files and refuses writes."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from app.config import Settings
from app.domain.filestore.mirror import mirror_failures
from app.domain.filestore.verify import verify_store
from app.domain.projects.services import keep_migration_keys
from app.lib.db import build_alchemy_config
from tests.integration.filestore.support import FileStoreEnv
from tests.support.api import (
    ApiUser,
    InFlight,
    add_position,
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    csv_bytes,
    signed_in_user,
)

PARALLEL = 10


@pytest.fixture
def app_database(fs: FileStoreEnv, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The apps of these tests use the file-store tests' own database (verify compares whole
    tables): each app gets an engine of its own on it; the process-wide config stays untouched."""
    monkeypatch.setattr("app.server.alchemy_config", lambda: build_alchemy_config(fs.settings))
    return fs.settings


def dual_write_settings(fs: FileStoreEnv) -> Settings:
    return api_settings(fs.settings, str(fs.storage_dir), MIGRATION_MODE="dual_write", DATA_DIR=str(fs.data_dir))


async def _write_concurrently(client: httpx.AsyncClient, user: ApiUser, in_flight: InFlight) -> dict[str, Any]:
    project = await create_project(client, user, metadata={"web": {"source": "test"}})
    url = f"/api/projects/{project['id']}"
    first = [await add_position(client, user, project["id"], code=f"27{i:04d}") for i in range(PARALLEL // 2)]
    lineages = [p["position"]["lineage_id"] for p in first]

    async def patch(index: int, lineage: str) -> httpx.Response:
        return await client.patch(f"{url}/positions/{lineage}", json={"quantity": str(index + 2)}, headers=user.headers)

    async def post(index: int) -> httpx.Response:
        body = {"code": f"28{index:04d}", "description": f"Bednění {index}", "unit": "m2", "quantity": "3"}
        return await client.post(f"{url}/positions", json={**body, "unit_price": "250"}, headers=user.headers)

    responses = await asyncio.gather(
        *(patch(i, lineage) for i, lineage in enumerate(lineages)),
        *(post(i) for i in range(PARALLEL - len(lineages))),
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses if r.status_code >= 300]
    assert in_flight.peak > 1  # the requests overlapped
    upload = await client.post(f"{url}/documents", files={"file": ("rozpocet.csv", csv_bytes())}, headers=user.headers)
    assert upload.status_code == 201, upload.text
    renamed = await client.patch(url, json={"name": "Most přes Vltavu – dual"}, headers=user.headers)
    assert renamed.status_code == 200, renamed.text
    return project


async def test_dual_write_then_files_only_restart(app_database: Settings, fs: FileStoreEnv) -> None:
    dual = dual_write_settings(fs)
    in_flight = InFlight()
    async with concurrent_client(build_test_app(dual), in_flight) as client:
        user = await signed_in_user(client)
        other = await signed_in_user(client)
        project = await _write_concurrently(client, user, in_flight)
        gone = await create_project(client, user)
        assert (await client.delete(f"/api/projects/{gone['id']}", headers=user.headers)).status_code == 204
        url = f"/api/projects/{project['id']}"
        written = {
            "project": (await client.get(url, headers=user.headers)).json(),
            "list": (await client.get("/api/projects", headers=user.headers)).json(),
            "positions": (await client.get(f"{url}/positions", headers=user.headers)).json(),
        }

    assert await mirror_failures(dual) == []
    report = await verify_store(dual, fs.data_dir)
    assert report.ok, report.human()
    assert report.projects_equal == 1  # the deleted project's directory went to .deleted/
    assert list((fs.data_dir / ".deleted").iterdir())

    files_only = msgspec.structs.replace(dual, MIGRATION_MODE="files_only", MIGRATION_READ_FROM="files")
    async with concurrent_client(build_test_app(files_only)) as client:
        url = f"/api/projects/{project['id']}"
        got = (await client.get(url, headers=user.headers)).json()
        listed = (await client.get("/api/projects", headers=user.headers)).json()
        positions = await client.get(f"{url}/positions", headers=user.headers)

        same = ("id", "owner_id", "name", "description", "workflow", "status", "total_positions", "total_cost")
        assert {k: got[k] for k in same} == {k: written["project"][k] for k in same}
        assert got["metadata"] == {"web": {"source": "test"}}
        assert [p["id"] for p in listed["items"]] == [p["id"] for p in written["list"]["items"]]
        assert listed["total"] == written["list"]["total"] == 1
        assert positions.status_code == 200
        fields = ("lineage_id", "code", "description", "unit", "quantity", "unit_price", "total_price")

        def by_lineage(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {p["lineage_id"]: {k: p[k] for k in fields} for p in items}

        assert by_lineage(positions.json()["items"]) == by_lineage(written["positions"]["items"])
        assert positions.json()["total"] == PARALLEL
        assert sum(Decimal(p["total_price"]) for p in positions.json()["items"]) == Decimal(got["total_cost"])

        other_sees = await client.get(url, headers=other.headers)
        assert other_sees.status_code == 404
        assert (await client.get("/api/projects", headers=other.headers)).json()["total"] == 0

        refused = [
            await client.patch(url, json={"name": "x"}, headers=user.headers),
            await client.post("/api/projects", json={"name": "y", "workflow": "workflow_a"}, headers=user.headers),
            await client.post(f"{url}/positions", json={"description": "z"}, headers=user.headers),
            await client.delete(url, headers=user.headers),
            # endpoints that start work on a project (one factory in the jobs domain) are refused too
            await client.post(f"{url}/recalculate", headers=user.headers),
            await client.post(f"{url}/parse", headers=user.headers),
        ]
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "file store is the writer" in response.json()["detail"]


def test_patched_metadata_keeps_the_migration_keys() -> None:
    current = {"legacy_id": "proj_1", "legacy": {"head": {}}, "migration": {"tool": "t"}, "web": 1}
    assert keep_migration_keys(current, {"web": 2}) == {
        "web": 2,
        "legacy_id": "proj_1",
        "legacy": {"head": {}},
        "migration": {"tool": "t"},
    }
    assert keep_migration_keys({"web": 1}, {}) == {}
    assert keep_migration_keys(current, {**current, "web": 3})["web"] == 3
