"""A JSON number no float can hold (1e999) is a 400 naming where it is, not "at `$[...]`"."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, add_position

Client = AsyncTestClient[Litestar]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"quantity": 1e999}', "quantity"),
        (b'{"unit_price": -1e400}', "unit_price"),
        (b'{"metadata": {"sizes": [1, 2, 1E+500]}}', "metadata.sizes[2]"),
    ],
)
async def test_a_number_out_of_range_is_refused_naming_its_place(
    client: Client, api_user: ApiUser, project: dict[str, Any], raw: bytes, field: str
) -> None:
    position = await add_position(client, api_user, project["id"])
    url = f"/api/projects/{project['id']}/positions/{position['position']['lineage_id']}"

    response = await client.patch(url, content=raw, headers={**api_user.headers, "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == [field]
    versions = await client.get(f"/api/projects/{project['id']}/versions", headers=api_user.headers)
    assert versions.json()["total"] == 1
