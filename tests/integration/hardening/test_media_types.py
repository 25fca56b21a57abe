"""A JSON endpoint reads only JSON: a body declared as another media type is a 415 naming the header,
and changes nothing. (A text/plain or form body used to be decoded as JSON and acted on: a browser
form can send text/plain to another site without a CORS preflight.)"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser

Client = AsyncTestClient[Litestar]
PROJECT = b'{"name": "Most", "workflow": "workflow_a"}'


@pytest.mark.parametrize(
    "media_type",
    ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "application/xml"],
)
async def test_a_json_body_sent_as_another_media_type_is_refused(
    client: Client, api_user: ApiUser, media_type: str
) -> None:
    response = await client.post(
        "/api/projects", content=PROJECT, headers={**api_user.headers, "Content-Type": media_type}
    )

    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["content-type"]
    listed = await client.get("/api/projects", headers=api_user.headers)
    assert listed.json()["total"] == 0


@pytest.mark.parametrize(
    "media_type", ["application/json", "application/json; charset=utf-8", "application/problem+json"]
)
async def test_json_media_types_are_read(client: Client, api_user: ApiUser, media_type: str) -> None:
    response = await client.post(
        "/api/projects", content=PROJECT, headers={**api_user.headers, "Content-Type": media_type}
    )
    assert response.status_code == 201, response.text


async def test_a_json_body_without_a_media_type_is_read(client: Client, api_user: ApiUser) -> None:
    # httpx and curl scripts often send none; refusing them would break clients for no safety gain
    request = client.build_request("POST", "/api/projects", content=PROJECT, headers=api_user.headers)
    request.headers.pop("Content-Type", None)
    response = await client.send(request)
    assert response.status_code == 201, response.text


async def test_an_optional_body_of_another_media_type_is_refused_too(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    response = await client.post(
        f"/api/projects/{project['id']}/export",
        content=b'{"format": "csv"}',
        headers={**api_user.headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 415, response.text


@pytest.mark.parametrize("media_type", ["application/json", "application/octet-stream", "text/csv"])
async def test_an_upload_that_is_not_multipart_is_refused(
    client: Client, api_user: ApiUser, project: dict[str, Any], media_type: str
) -> None:
    response = await client.post(
        f"/api/projects/{project['id']}/documents",
        content=b"kod;popis;mj\n1;a;m\n",
        headers={**api_user.headers, "Content-Type": media_type},
    )
    assert response.status_code == 415, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["content-type"]
