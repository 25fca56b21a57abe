"""Document upload over HTTP: streamed to disk, typed by content, de-duplicated, parsed by a job;
every failed upload leaves neither a file nor a row."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db.models import BackgroundJob, ProjectDocument
from tests.support.api import (
    ApiUser,
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    csv_bytes,
    doc_bytes,
    docx_bytes,
    pdf_bytes,
    png_bytes,
    run_sql,
    signed_in_user,
    text_bytes,
    unixml_bytes,
    xc4_bytes,
    xls_bytes,
    xlsx_bytes,
)


def upload_url(project: dict[str, Any]) -> str:
    return f"/api/projects/{project['id']}/documents"


def storage(app: Litestar) -> Path:
    return Path(app.state.settings.STORAGE_DIR).resolve()


def stored_files(app: Litestar) -> list[Path]:
    root = storage(app)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def document_rows(settings: Settings, project_id: str) -> int:
    rows = await run_sql(
        settings, select(func.count()).select_from(ProjectDocument).where(ProjectDocument.project_id == project_id)
    )
    return int(rows[0][0])


@pytest.mark.parametrize(
    ("filename", "content", "file_type", "details"),
    [
        ("rozpocet.csv", csv_bytes, "csv", {}),
        ("rozpocet.xml", unixml_bytes, "xml", {"xml_format": "unixml"}),
        ("kros.xc4", xc4_bytes, "xml", {"xml_format": "xc4"}),
        ("rozpocet.xlsx", xlsx_bytes, "xlsx", {}),
        ("stary.xls", xls_bytes, "xls", {}),
        ("zprava.pdf", pdf_bytes, "pdf", {}),
        ("zprava.txt", text_bytes, "txt", {}),
        ("no-extension", csv_bytes, "csv", {}),  # typed by content, not by name
        ("looks.pdf", text_bytes, "txt", {}),
    ],
)
async def test_upload_types_the_file_by_content_and_queues_a_parse_job(
    client: AsyncTestClient[Litestar],
    app: Litestar,
    settings: Settings,
    api_user: ApiUser,
    project: dict[str, Any],
    filename: str,
    content: Callable[[], bytes],
    file_type: str,
    details: dict[str, str],
) -> None:
    data = content()
    response = await client.post(
        upload_url(project), files={"file": (filename, data, "application/octet-stream")}, headers=api_user.headers
    )
    assert response.status_code == 201, response.text
    document, job = response.json()["document"], response.json()["job"]
    assert document["file_type"] == file_type
    assert document["metadata"] == details
    assert document["file_size"] == len(data)
    assert document["content_hash"] == hashlib.sha256(data).hexdigest()
    assert document["filename"] == filename
    assert document["parse_status"] == "pending"
    assert job["job_type"] == "parse_document"
    assert job["status"] in ("queued", "running", "completed", "failed")
    rows = await run_sql(settings, select(BackgroundJob.payload).where(BackgroundJob.id == uuid.UUID(job["id"])))
    assert rows == [({"document_id": document["id"]},)]
    files = stored_files(app)
    assert len(files) == 1 and files[0].read_bytes() == data


async def test_download_returns_the_stored_bytes_unchanged(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    data = xlsx_bytes()
    uploaded = await client.post(upload_url(project), files={"file": ("b.xlsx", data)}, headers=api_user.headers)
    document_id = uploaded.json()["document"]["id"]
    content = await client.get(f"/api/documents/{document_id}/content", headers=api_user.headers)
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "b.xlsx" in content.headers["content-disposition"]
    metadata = await client.get(f"/api/documents/{document_id}", headers=api_user.headers)
    assert metadata.json()["id"] == document_id
    assert "storage_path" not in metadata.json()


async def test_list_documents_newest_first(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    ids = []
    for index in range(3):
        uploaded = await client.post(
            upload_url(project), files={"file": (f"{index}.csv", csv_bytes(index + 1))}, headers=api_user.headers
        )
        ids.append(uploaded.json()["document"]["id"])
    listing = await client.get(upload_url(project), params={"limit": 2}, headers=api_user.headers)
    assert listing.status_code == 200
    assert listing.json()["total"] == 3
    assert [d["id"] for d in listing.json()["items"]] == [ids[2], ids[1]]


async def test_the_same_content_twice_is_409_naming_the_first(
    client: AsyncTestClient[Litestar], app: Litestar, settings: Settings, api_user: ApiUser, project: dict[str, Any]
) -> None:
    first = await client.post(upload_url(project), files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers)
    again = await client.post(upload_url(project), files={"file": ("copy.csv", csv_bytes())}, headers=api_user.headers)
    assert again.status_code == 409
    existing = first.json()["document"]["id"]
    assert again.json()["existing_document_id"] == existing
    assert existing in again.json()["detail"] and "a.csv" in again.json()["detail"]
    assert await document_rows(settings, project["id"]) == 1
    assert len(stored_files(app)) == 1
    other_project = await create_project(client, api_user)
    elsewhere = await client.post(
        upload_url(other_project), files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers
    )
    assert elsewhere.status_code == 201  # duplicates are per project


@pytest.mark.parametrize(
    ("content", "status", "field_message"),
    [
        (b"", 400, "is empty"),
        (png_bytes(), 415, "must be"),
        (docx_bytes(), 415, "must be"),
        (doc_bytes(), 415, "must be"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', 415, "must be"),
    ],
    ids=["empty", "png", "docx", "word97", "svg"],
)
async def test_refused_uploads_leave_no_file_and_no_row(
    client: AsyncTestClient[Litestar],
    app: Litestar,
    settings: Settings,
    api_user: ApiUser,
    project: dict[str, Any],
    content: bytes,
    status: int,
    field_message: str,
) -> None:
    response = await client.post(upload_url(project), files={"file": ("x.csv", content)}, headers=api_user.headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "file"
    assert field_message in response.json()["errors"][0]["message"]
    assert stored_files(app) == []
    assert await document_rows(settings, project["id"]) == 0


async def test_a_file_over_the_limit_is_413_and_leaves_nothing(settings: Settings, tmp_path: Path) -> None:
    small = build_test_app(api_settings(settings, str(tmp_path / "storage"), UPLOAD_MAX_BYTES=10_000))
    async with AsyncTestClient(app=small) as client:
        user = await signed_in_user(client)
        project = await create_project(client, user)
        exactly = await client.post(
            upload_url(project), files={"file": ("ok.txt", b"a;b\n" * 2_500)}, headers=user.headers
        )
        assert exactly.status_code == 201, exactly.text  # 10 000 bytes: at the limit is allowed
        too_large = await client.post(
            upload_url(project), files={"file": ("big.csv", b"a;b\n" * 2_501)}, headers=user.headers
        )
        assert too_large.status_code == 413
        assert too_large.json()["errors"] == [{"field": "file", "message": "must be at most 10000 bytes"}]
        assert len(stored_files(small)) == 1
        assert await document_rows(settings, project["id"]) == 1


async def test_a_truncated_multipart_body_is_400_and_leaves_nothing(
    client: AsyncTestClient[Litestar], app: Litestar, settings: Settings, api_user: ApiUser, project: dict[str, Any]
) -> None:
    boundary = "----concrete-agent-test"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="cut.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    body = head + csv_bytes(200)[:3000]  # the closing boundary never comes
    response = await client.post(
        upload_url(project),
        content=body,
        headers={**api_user.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400, response.text
    assert stored_files(app) == []
    assert await document_rows(settings, project["id"]) == 0


async def test_a_client_that_disconnects_mid_upload_leaves_nothing(settings: Settings, tmp_path: Path) -> None:
    """The connection drops after part of the body: no file, no row, and the app keeps serving."""
    app = build_test_app(api_settings(settings, str(tmp_path / "storage")))
    async with concurrent_client(app) as http:
        user = await signed_in_user(http)
        project = await create_project(http, user)
        boundary = "cut-boundary"
        first_part = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        ).encode() + csv_bytes(500)
        chunks: list[dict[str, Any]] = [
            {"type": "http.request", "body": first_part, "more_body": True},
            {"type": "http.disconnect"},
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return chunks.pop(0) if chunks else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": upload_url(project),
            "raw_path": upload_url(project).encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver.local"),
                (b"authorization", f"Bearer {user.token}".encode()),
                (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
                (b"content-length", str(len(first_part) * 3).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver.local", 80),
            "state": {},
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        statuses = [m.get("status") for m in sent if m["type"] == "http.response.start"]
        assert all(status is None or status >= 400 for status in statuses), statuses
        assert stored_files(app) == []
        assert await document_rows(settings, project["id"]) == 0
        healthy = await http.post(upload_url(project), files={"file": ("ok.csv", csv_bytes())}, headers=user.headers)
        assert healthy.status_code == 201


async def test_upload_needs_the_file_field(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    response = await client.post(
        upload_url(project), files={"document": ("a.csv", csv_bytes())}, headers=api_user.headers
    )
    assert response.status_code == 400
    assert "file" in str(response.json()["errors"])


async def test_unknown_documents_are_404(client: AsyncTestClient[Litestar], api_user: ApiUser) -> None:
    missing = uuid.uuid4()
    assert (await client.get(f"/api/documents/{missing}", headers=api_user.headers)).status_code == 404
    assert (await client.get(f"/api/documents/{missing}/content", headers=api_user.headers)).status_code == 404
    assert (
        await client.post(
            f"/api/projects/{missing}/documents", files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers
        )
    ).status_code == 404


@pytest.mark.parametrize(
    "disposition",
    [b'form-data; name="file"; filename=""', b"form-data; name=\"file\"; filename*=utf-8''rozpo%E8et.csv"],
    ids=["empty filename", "only an RFC 5987 filename"],
)
async def test_a_part_without_a_usable_filename_is_a_400_whatever_its_bytes(
    client: AsyncTestClient[Litestar], app: Litestar, api_user: ApiUser, project: dict[str, Any], disposition: bytes
) -> None:
    """Litestar reads a part without a filename as UTF-8 text; a cp1250 CSV sent so was a 500."""
    for content, field in ((csv_bytes(), "file"), ("Popis;MJ\r\nZeď;m3\r\n".encode("cp1250"), "body")):
        body = b"--B\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + content + b"\r\n--B--\r\n"
        response = await client.post(
            upload_url(project),
            content=body,
            headers={**api_user.headers, "Content-Type": "multipart/form-data; boundary=B"},
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field
    assert stored_files(app) == []
