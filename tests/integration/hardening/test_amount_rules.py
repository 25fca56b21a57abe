"""Negative amounts and metadata bounds through the API (issue 14 part 4): what is legitimate is
stored, the rest is a 400 naming the field and makes no version."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.lib.input_bounds import METADATA_MAX_BYTES, METADATA_MAX_KEYS
from tests.integration.hardening.test_hostile_input import assert_problem
from tests.support.api import ApiUser, add_position, project_body

Client = AsyncTestClient[Litestar]


async def test_menoprace_and_credit_lines_are_stored(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    less_work = await add_position(client, api_user, project["id"], quantity="-2.5", unit_price="3450.00")
    assert less_work["position"]["total_price"] == "-8625.00"
    credit = await add_position(
        client,
        api_user,
        project["id"],
        code=None,
        description="Sleva 5 %",
        unit="kpl",
        quantity="1",
        unit_price="-12000.00",
    )
    assert credit["position"]["total_price"] == "-12000.00"
    lump = await add_position(
        client,
        api_user,
        project["id"],
        code=None,
        description="Dobropis",
        quantity=None,
        unit_price=None,
        total_price="-500.00",
    )
    assert lump["position"]["total_price"] == "-500.00"
    state = await client.get(f"/api/projects/{project['id']}", headers=api_user.headers)
    assert state.json()["total_cost"] == "-21125.00"


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"quantity": "-1", "unit_price": "-100"}, ["quantity", "unit_price"]),
        ({"quantity": "-1", "unit_price": "100", "total_price": "100"}, ["total_price"]),
        ({"quantity": "2", "unit_price": "100", "total_price": "-200"}, ["total_price"]),
    ],
)
async def test_sign_errors_are_refused_naming_the_fields(
    client: Client, api_user: ApiUser, project: dict[str, Any], overrides: dict[str, str], fields: list[str]
) -> None:
    response = await client.post(
        f"/api/projects/{project['id']}/positions",
        json={"description": "Beton", **overrides},
        headers=api_user.headers,
    )
    body = assert_problem(response, 400)
    assert [error["field"] for error in body["errors"]] == fields
    versions = await client.get(f"/api/projects/{project['id']}/versions", headers=api_user.headers)
    assert versions.json()["total"] == 0


async def test_an_edit_that_makes_both_negative_is_refused(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    added = await add_position(client, api_user, project["id"], quantity="-2", unit_price="100")
    lineage = added["position"]["lineage_id"]
    response = await client.patch(
        f"/api/projects/{project['id']}/positions/{lineage}", json={"unit_price": "-100"}, headers=api_user.headers
    )
    assert_problem(response, 400, "unit_price")
    ok = await client.patch(
        f"/api/projects/{project['id']}/positions/{lineage}", json={"quantity": "2"}, headers=api_user.headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["position"]["total_price"] == "200.00"


async def test_negative_confidence_is_refused(client: Client, api_user: ApiUser, project: dict[str, Any]) -> None:
    response = await client.post(
        f"/api/projects/{project['id']}/positions",
        json={"description": "Beton", "confidence": "-1"},
        headers=api_user.headers,
    )
    assert_problem(response, 400, "confidence")


async def test_metadata_past_its_byte_bound_is_refused(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    big = {"note": "x" * METADATA_MAX_BYTES}
    response = await client.post("/api/projects", json=project_body(metadata=big), headers=api_user.headers)
    assert_problem(response, 400, "metadata")
    response = await client.patch(f"/api/projects/{project['id']}", json={"metadata": big}, headers=api_user.headers)
    assert_problem(response, 400, "metadata")
    response = await client.post(
        f"/api/projects/{project['id']}/positions",
        json={"description": "Beton", "metadata": big},
        headers=api_user.headers,
    )
    assert_problem(response, 400, "metadata")


async def test_metadata_with_too_many_keys_is_refused(client: Client, api_user: ApiUser) -> None:
    many = {f"k{i}": i for i in range(METADATA_MAX_KEYS + 1)}
    response = await client.post("/api/projects", json=project_body(metadata=many), headers=api_user.headers)
    assert_problem(response, 400)


async def test_metadata_within_bounds_is_kept(client: Client, api_user: ApiUser) -> None:
    metadata = {"investor": "Obec Kfely", "objects": [{"code": f"SO {i:03}"} for i in range(100)]}
    response = await client.post("/api/projects", json=project_body(metadata=metadata), headers=api_user.headers)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == metadata
