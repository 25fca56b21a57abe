"""The OpenAPI document describes the API as it behaves (issue 14 part 5)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, csv_bytes, project_body

Client = AsyncTestClient[Litestar]


async def _document(client: Client) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


async def test_errors_are_problem_json_with_every_status(client: Client) -> None:
    document = await _document(client)
    assert "ProblemDetails" in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45" and not (path == "/ready" and status == "503"):
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
        statuses = set(operation["responses"])
        assert "400" in statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if "requestBody" in operation:
            assert "413" in statuses, (method, path)
        if path.startswith("/api/") and path not in ("/api/auth/register", "/api/auth/verify-email"):
            assert {"429", "503"} <= statuses, (method, path)
        if method in ("POST", "PATCH", "DELETE") and path.startswith("/api/"):
            assert "409" in statuses, (method, path)
    upload = document["paths"]["/api/projects/{project_id}/documents"]["post"]["responses"]
    assert "415" in upload
    edit = document["paths"]["/api/projects/{project_id}/positions/{position_id}"]["patch"]["responses"]
    assert "412" in edit
    login = document["paths"]["/api/auth/login"]["post"]["responses"]
    assert {"401", "403"} <= set(login)


async def test_every_integer_parameter_is_bounded(client: Client) -> None:
    """The central guard against int4 overflow: no integer is read from a path or a query unbounded."""
    document = await _document(client)
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            variants = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
            if any(v.get("type") == "integer" for v in variants):
                assert "maximum" in schema or any("maximum" in v for v in variants), (method, path, parameter)


async def test_request_bodies_are_described_as_validated(client: Client, api_user: ApiUser) -> None:
    document = await _document(client)
    schemas = document["components"]["schemas"]
    assert schemas["ProjectCreate"]["additionalProperties"] is False
    assert schemas["PositionUpdate"]["additionalProperties"] is False
    assert schemas["ProjectCreate"]["properties"]["metadata"]["maxProperties"] == 1000
    refused = await client.post("/api/projects", json=project_body(colour="red"), headers=api_user.headers)
    assert refused.status_code == 400, refused.text
    assert schemas["LoginRequest"].get("additionalProperties", True) is not False
    login = await client.post(
        "/api/auth/login", json={"email": api_user.email, "password": api_user.password, "remember": True}
    )
    assert login.status_code == 200, login.text


async def test_optional_bodies_are_optional(client: Client, api_user: ApiUser, project: dict[str, Any]) -> None:
    document = await _document(client)
    for action in ("audit", "enrich", "export", "generate"):
        body = document["paths"][f"/api/projects/{{project_id}}/{action}"]["post"]["requestBody"]
        assert body["required"] is False, action
    started = await client.post(f"/api/projects/{project['id']}/audit", headers=api_user.headers)
    assert started.status_code == 202, started.text
    assert document["paths"]["/api/projects"]["post"]["requestBody"]["required"] is True


async def test_headers_and_files_are_typed_as_sent(client: Client, api_user: ApiUser, project: dict[str, Any]) -> None:
    document = await _document(client)
    content = document["paths"]["/api/documents/{document_id}/content"]["get"]["responses"]["200"]
    last_modified = content["headers"]["last-modified"]["schema"]
    assert "format" not in last_modified
    assert "" not in content["content"]
    positions = document["paths"]["/api/projects/{project_id}/positions"]["get"]["responses"]
    assert "ETag" in positions["200"]["headers"]
    assert "Retry-After" in positions["429"]["headers"]
    logout = document["paths"]["/api/auth/logout"]["post"]["responses"]["204"]
    assert "content" not in logout
    uploaded = await client.post(
        f"/api/projects/{project['id']}/documents",
        files={"file": ("rozpocet.csv", csv_bytes(), "text/csv")},
        headers=api_user.headers,
    )
    document_id = uploaded.json()["document"]["id"]
    served = await client.get(f"/api/documents/{document_id}/content", headers=api_user.headers)
    assert served.headers["last-modified"].endswith(" GMT")


async def test_sessions_are_declared(client: Client) -> None:
    document = await _document(client)
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session_cookie"}
    assert "security" in document["paths"]["/api/projects"]["get"]
    assert "security" not in document["paths"]["/api/auth/login"]["post"]


async def test_options_allow_lists_every_method(client: Client, api_user: ApiUser, project: dict[str, Any]) -> None:
    response = await client.options(f"/api/projects/{project['id']}", headers=api_user.headers)
    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) == {"DELETE", "GET", "OPTIONS", "PATCH"}
    positions = await client.options(f"/api/projects/{project['id']}/positions", headers=api_user.headers)
    assert set(positions.headers["allow"].split(", ")) == {"GET", "OPTIONS", "POST"}


@pytest.mark.slow
async def test_the_cli_writes_the_served_document(client: Client, tmp_path: Path) -> None:
    """`app schema openapi` writes what /schema/openapi.json serves (Litestar's own command wrote the
    document before its corrections)."""
    output = tmp_path / "openapi.json"
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "schema", "openapi", "--output", str(output), cwd=tmp_path
    )
    assert await asyncio.wait_for(command.wait(), timeout=120) == 0
    assert json.loads(output.read_bytes()) == await _document(client)
