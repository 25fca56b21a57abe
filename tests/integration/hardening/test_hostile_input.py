"""Hostile input found by schemathesis and by hand (issue 14 part 1): every case is a 4xx problem
naming the field, never a 5xx, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, add_position, concurrent_client, project_body, signed_in_user

Client = AsyncTestClient[Litestar]


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = dict(response.json())
    assert body["status"] == status
    if field is not None:
        fields = [error["field"] for error in body.get("errors", [])]
        assert field in fields, body
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/versions/99999999999",
        "/versions/2147483648",
        "/positions?version=10180483016391",
        "/positions?offset=123456789012345678901",
        "/versions?offset=99999999999999999999999",
        "/documents?offset=9223372036854775808",
        "/chat?offset=99999999999",
        "/jobs?offset=99999999999",
        "/audit?offset=99999999999",
    ],
)
async def test_integers_past_int4_are_a_400_naming_the_parameter(
    client: Client, api_user: ApiUser, project: dict[str, Any], path: str
) -> None:
    response = await client.get(f"/api/projects/{project['id']}{path}", headers=api_user.headers)
    body = assert_problem(response, 400)
    assert body["errors"], body


async def test_offsets_past_int4_on_top_level_lists(client: Client, api_user: ApiUser) -> None:
    for path in ("/api/projects?offset=99999999999999999999", "/api/kb/search?q=beton&offset=99999999999"):
        assert_problem(await client.get(path, headers=api_user.headers), 400, "offset")


@pytest.mark.parametrize(
    "query",
    [
        "created_after=0001-01-01T00:00:00",
        "created_before=9999-12-31T23:59:59",
        "created_after=0001-01-01T00:00:00%2B14:00",
    ],
)
async def test_dates_the_database_cannot_take_are_a_400(client: Client, api_user: ApiUser, query: str) -> None:
    assert_problem(await client.get(f"/api/projects?{query}", headers=api_user.headers), 400)


@pytest.mark.parametrize(
    ("query", "field"),
    [("created_after=2026-01-01T00:00:00", "created_after"), ("created_before=2026-01-01T10:00:00", "created_before")],
)
async def test_a_date_without_a_time_zone_is_a_400_naming_it(
    client: Client, api_user: ApiUser, query: str, field: str
) -> None:
    # A naive moment would be a guess (UTC? the server's zone?): it is refused, naming the parameter.
    body = assert_problem(await client.get(f"/api/projects?{query}", headers=api_user.headers), 400, field)
    assert "time zone" in body["detail"]
    aware = await client.get("/api/projects?created_after=2026-01-01T00:00:00Z", headers=api_user.headers)
    assert aware.status_code == 200, aware.text


async def test_the_largest_int4_version_is_simply_not_found(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    response = await client.get(f"/api/projects/{project['id']}/versions/2147483647", headers=api_user.headers)
    assert_problem(response, 404)


async def test_export_version_past_int4(client: Client, api_user: ApiUser, project: dict[str, Any]) -> None:
    response = await client.post(
        f"/api/projects/{project['id']}/export", json={"version": 99999999999}, headers=api_user.headers
    )
    assert_problem(response, 400, "version")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Most\u0000"}, "name"),
        ({"metadata": {"note": "a\u0000b"}}, "metadata.note"),
        ({"metadata": {"a\u0000": 1}}, "metadata"),
        ({"metadata": {"list": [1, {"deep": "\u0000"}]}}, "metadata.list[1].deep"),
        ({"description": "\u0000"}, "description"),
    ],
)
async def test_nul_in_a_json_body_is_a_400_naming_the_field(
    client: Client, api_user: ApiUser, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/projects", json=project_body(**body), headers=api_user.headers)
    assert_problem(response, 400, field)
    listed = await client.get("/api/projects", headers=api_user.headers)
    assert listed.json()["total"] == 0


async def test_an_escaped_backslash_u0000_is_ordinary_text(client: Client, api_user: ApiUser) -> None:
    """`\\\\u0000` in JSON is the six characters `\\u0000`, which PostgreSQL stores."""
    raw = json.dumps(project_body(name="literally \\u0000"))
    response = await client.post(
        "/api/projects", content=raw, headers={**api_user.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "literally \\u0000"


async def test_nul_in_a_position_edit(client: Client, api_user: ApiUser, project: dict[str, Any]) -> None:
    added = await add_position(client, api_user, project["id"])
    lineage = added["position"]["lineage_id"]
    response = await client.patch(
        f"/api/projects/{project['id']}/positions/{lineage}",
        json={"notes": "x\u0000"},
        headers=api_user.headers,
    )
    assert_problem(response, 400, "notes")


@pytest.mark.parametrize(
    "path",
    [
        "/api/kb/search?q=%00",
        "/api/kb/search?q=beton%00&type=code",
        "/api/projects?q=%00",
        "/api/projects?status=%00",
    ],
)
async def test_nul_in_a_query_string_is_a_400(client: Client, api_user: ApiUser, path: str) -> None:
    body = assert_problem(await client.get(path, headers=api_user.headers), 400)
    assert "NUL" in body["errors"][0]["message"]


async def test_nul_in_a_query_string_is_refused_on_every_route_after_the_session(client: Client) -> None:
    """Whether or not the route reads the parameter; an unauthenticated request is a 401 first."""
    body = assert_problem(await client.get("/health?anything=%00"), 400, "anything")
    assert "NUL" in body["errors"][0]["message"]
    assert_problem(await client.get("/api/projects?q=%00"), 401)


async def test_nul_in_list_filters_of_a_project(client: Client, api_user: ApiUser, project: dict[str, Any]) -> None:
    for path in ("/positions?q=%00", "/positions?code=%00", "/jobs?status=%00"):
        response = await client.get(f"/api/projects/{project['id']}{path}", headers=api_user.headers)
        assert_problem(response, 400)


async def test_nul_in_the_query_of_a_cached_read_is_a_400_hit_or_miss(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    """The request gate answers a cached read (a project, /api/me) before the route's guards: it did so
    for a query string the app-wide guard refuses too (200 on a hit, 400 on a miss)."""
    for path in (f"/api/projects/{project['id']}", "/api/me"):
        for _ in range(3):  # cached in Redis, then in the process's near-cache
            assert (await client.get(path, headers=api_user.headers)).status_code == 200
        for query in ("?x=%00", "?%00=1"):
            assert_problem(await client.get(path + query, headers=api_user.headers), 400)


async def test_metadata_nested_100000_deep_is_refused(client: Client, api_user: ApiUser) -> None:
    deep = '{"metadata": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000
    raw = json.dumps(project_body())[:-1] + ", " + deep[1:]
    response = await client.post(
        "/api/projects", content=raw, headers={**api_user.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, "body")


async def test_metadata_nested_past_the_depth_limit_names_the_place(client: Client, api_user: ApiUser) -> None:
    nested: dict[str, Any] = {"x": 1}
    for _ in range(40):
        nested = {"a": nested}
    response = await client.post("/api/projects", json=project_body(metadata=nested), headers=api_user.headers)
    body = assert_problem(response, 400)
    assert body["errors"][0]["field"].startswith("metadata.a.a")


async def test_a_json_body_past_the_size_limit_is_a_413(client: Client, api_user: ApiUser) -> None:
    metadata = {f"k{i}": i for i in range(200_000)}  # ~3 MB
    response = await client.post("/api/projects", json=project_body(metadata=metadata), headers=api_user.headers)
    assert_problem(response, 413, "body")
    listed = await client.get("/api/projects", headers=api_user.headers)
    assert listed.json()["total"] == 0


async def test_a_chunked_json_body_is_cut_at_the_limit(app: Litestar) -> None:
    """No Content-Length to refuse early: reading stops at the limit instead of at the upload limit."""
    sent = 0

    async def chunks() -> Any:
        nonlocal sent
        yield b'{"name": "Most", "workflow": "workflow_a", "metadata": {"x": "'
        for _ in range(4096):  # 64 MiB if it were all read
            sent += 16 * 1024
            yield b"a" * 16 * 1024
        yield b'"}}'

    async with concurrent_client(app) as http:  # streams the request body (the test client reads it first)
        user = await signed_in_user(http)
        response = await http.post(
            "/api/projects", content=chunks(), headers={**user.headers, "Content-Type": "application/json"}
        )
    assert_problem(response, 413, "body")
    assert sent < 4 * 1024 * 1024


async def test_an_upload_may_be_larger_than_a_json_body(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    rows = "\n".join(f"27232{i};Beton základů {i};m3;1,5;3450,00" for i in range(60_000))
    content = ("kod;popis;mj;mnozstvi;cena\n" + rows + "\n").encode()
    assert len(content) > 2 * 1024 * 1024
    response = await client.post(
        f"/api/projects/{project['id']}/documents",
        files={"file": ("velky.csv", content, "text/csv")},
        headers=api_user.headers,
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "quantity", ["Infinity", "-Infinity", "NaN", "1e309", "sNaN", "1e-400", "1E+1000000", "-1E+1000000"]
)
async def test_non_finite_or_huge_quantity_in_a_position_edit(
    client: Client, api_user: ApiUser, project: dict[str, Any], quantity: str
) -> None:
    added = await add_position(client, api_user, project["id"])
    lineage = added["position"]["lineage_id"]
    response = await client.patch(
        f"/api/projects/{project['id']}/positions/{lineage}", json={"quantity": quantity}, headers=api_user.headers
    )
    assert_problem(response, 400, "quantity")
    versions = await client.get(f"/api/projects/{project['id']}/versions", headers=api_user.headers)
    assert versions.json()["total"] == 1


@pytest.mark.parametrize("amount", ["1e309", "1E+1000000"])
@pytest.mark.parametrize("field", ["quantity", "unit_price", "total_price", "confidence"])
async def test_non_finite_amounts_in_a_new_position(
    client: Client, api_user: ApiUser, project: dict[str, Any], field: str, amount: str
) -> None:
    body = {"description": "Beton", "quantity": "1", "unit_price": "1", field: amount}
    response = await client.post(f"/api/projects/{project['id']}/positions", json=body, headers=api_user.headers)
    assert_problem(response, 400, field)


async def test_largest_amounts_give_a_total_that_is_refused_by_name(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    body = {"description": "Beton", "quantity": "99999999999.9999", "unit_price": "9999999999999.99"}
    response = await client.post(f"/api/projects/{project['id']}/positions", json=body, headers=api_user.headers)
    assert_problem(response, 400, "total_price")


@pytest.mark.parametrize("ratio", ["NaN", "Infinity", "1e309", "-1"])
async def test_generation_ratios_must_be_finite(
    client: Client, api_user: ApiUser, project: dict[str, Any], ratio: str
) -> None:
    response = await client.post(
        f"/api/projects/{project['id']}/generate",
        json={"formwork_m2_per_m3": {"wall": ratio}},
        headers=api_user.headers,
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("value", ["99999999999999999999", "²", "1" * 11])
async def test_if_match_that_is_no_version_number(
    client: Client, api_user: ApiUser, project: dict[str, Any], value: str
) -> None:
    added = await add_position(client, api_user, project["id"])
    lineage = added["position"]["lineage_id"]
    response = await client.patch(
        f"/api/projects/{project['id']}/positions/{lineage}",
        json={"quantity": "2"},
        headers={**api_user.headers, "If-Match": value.encode("latin-1")},  # type: ignore[dict-item]
    )
    assert_problem(response, 400, "If-Match")


@pytest.mark.parametrize(
    ("path", "field"),
    [("/positions?status=red", "status"), ("/audit?status=green", "status"), ("/jobs?status=done", "status")],
)
async def test_a_filter_value_outside_its_choices_names_the_query_parameter(
    client: Client, api_user: ApiUser, project: dict[str, Any], path: str, field: str
) -> None:
    # The positions' status filter was named `status_choices` (advanced-alchemy's argument), not the `status` sent.
    body = assert_problem(await client.get(f"/api/projects/{project['id']}{path}", headers=api_user.headers), 400)
    assert [error["field"] for error in body["errors"]] == [field], body


async def test_a_project_list_filter_outside_its_choices_names_the_query_parameter(
    client: Client, api_user: ApiUser
) -> None:
    for query, field in (("status=finished", "status"), ("workflow=workflow_c", "workflow")):
        body = assert_problem(await client.get(f"/api/projects?{query}", headers=api_user.headers), 400)
        assert [error["field"] for error in body["errors"]] == [field], body


async def test_an_upload_without_its_file_part_names_file(
    client: Client, api_user: ApiUser, project: dict[str, Any]
) -> None:
    response = await client.post(
        f"/api/projects/{project['id']}/documents", headers=api_user.headers, files={"upload": ("a.csv", b"x;y\n")}
    )
    body = assert_problem(response, 400)
    assert [error["field"] for error in body["errors"]] == ["file"], body
