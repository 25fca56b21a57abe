"""Builders for API tests: users with sessions, projects, positions and small documents of each type.

Data is built by small functions with overridable defaults (not copy-pasted dicts); every e-mail
and name is unique so tests never collide inside one database.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings

DEFAULT_PASSWORD = "Correct-Horse-42"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.cz"


@dataclass
class ApiUser:
    """A registered, signed-in user: `headers` authenticate a request."""

    id: str
    email: str
    password: str
    token: str
    role: str = "user"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(client: AsyncTestClient[Litestar] | httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {"email": unique_email(), "password": DEFAULT_PASSWORD, "full_name": "Jana Nováková", **overrides}
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def login(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> str:
    """Sign in and return the session token, for `Authorization: Bearer` use.

    The login also sets the session cookie; the client's cookie jar is restored afterwards, so a shared
    client stays as it was (a request without headers stays anonymous, not silently the last user signed in).
    """
    cookies_before = list(client.cookies.jar)
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    client.cookies.jar.clear()
    for cookie in cookies_before:
        client.cookies.jar.set_cookie(cookie)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def signed_in_user(client: AsyncTestClient[Litestar] | httpx.AsyncClient, **overrides: Any) -> ApiUser:
    password = overrides.get("password", DEFAULT_PASSWORD)
    user = await register(client, **overrides)
    token = await login(client, user["email"], password)
    return ApiUser(id=user["id"], email=user["email"], password=password, token=token)


async def run_sql(settings: Settings, statement: Any) -> list[Any]:
    """Run one statement on the test database (for set-up and for checking what was stored)."""
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(statement)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def make_admin(client: AsyncTestClient[Litestar], settings: Settings) -> ApiUser:
    """A signed-in administrator (role set in the database, as `app users create --admin` does)."""
    from sqlalchemy import update

    from app.db.models import User

    user = await register(client, email=unique_email("admin"))
    await run_sql(settings, update(User).where(User.email == user["email"]).values(role="admin", status="active"))
    token = await login(client, user["email"])
    return ApiUser(id=user["id"], email=user["email"], password=DEFAULT_PASSWORD, token=token, role="admin")


async def verification_token(settings: Settings, email: str) -> str:
    from app.db.models import OutboxMessage

    rows = await run_sql(
        settings,
        select(OutboxMessage.payload).where(OutboxMessage.recipient == email, OutboxMessage.kind == "verify_email"),
    )
    assert rows, f"no verification message for {email}"
    return str(rows[-1][0]["token"])


def project_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": f"Most přes Vltavu {uuid.uuid4().hex[:6]}",
        "description": "Rekonstrukce mostu, SO 201",
        "workflow": "workflow_a",
        **overrides,
    }


async def create_project(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient, user: ApiUser, **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/api/projects", json=project_body(**overrides), headers=user.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def position_body(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "272325",
        "description": "Základy ze železobetonu C30/37",
        "unit": "m3",
        "quantity": "12.5",
        "unit_price": "3450.00",
        "category": "2 - Zakládání",
        **overrides,
    }


async def add_position(
    client: AsyncTestClient[Litestar] | httpx.AsyncClient, user: ApiUser, project_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/projects/{project_id}/positions", json=position_body(**overrides), headers=user.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


# Small documents whose type is recognised from their content.


def csv_bytes(rows: int = 3) -> bytes:
    lines = ["kod;popis;mj;mnozstvi;cena"]
    lines += [f"27232{i};Beton základů {i};m3;{i + 1},5;3450,00" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def unixml_bytes() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<unixml xmlns="http://www.unixml.cz/schemas/unixml"><stavba><nazev>Most</nazev></stavba></unixml>\n'
    )


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def xls_bytes() -> bytes:
    """An OLE2 container whose directory names a Workbook stream (what Excel 97-2003 writes)."""
    return bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 504 + "Workbook".encode("utf-16-le") + b"\x00" * 64


def doc_bytes() -> bytes:
    """An OLE2 container without a workbook: a Word 97 document."""
    return bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 504 + "WordDocument".encode("utf-16-le") + b"\x00" * 64


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def xc4_bytes() -> bytes:
    return '<?xml version="1.0" encoding="windows-1250"?>\n<XC4><Stavba/></XC4>\n'.encode("cp1250")


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def text_bytes() -> bytes:
    return "Technická zpráva: beton C30/37 XC4, krytí 50 mm.\n".encode()


def api_settings(settings: Settings, storage_dir: str, **overrides: Any) -> Settings:
    """Test settings: generous rate limits (one test lowers them) and a storage dir of the test."""
    import msgspec

    values: dict[str, Any] = {
        "RATE_LIMIT_AUTH": "100000/minute",
        "RATE_LIMIT_DEFAULT": "100000/minute",
        "RATE_LIMIT_UPLOAD": "100000/minute",
        "RATE_LIMIT_JOBS": "100000/minute",
        "STORAGE_DIR": storage_dir,
        **overrides,
    }
    return msgspec.structs.replace(settings, **values)


def build_test_app(settings: Settings) -> Litestar:
    """A fresh app with an engine of its own: the test client runs each app on its own event loop,
    and asyncpg connections must not cross loops."""
    from app.lib.db import alchemy_config
    from app.server import build_app

    alchemy_config.cache_clear()
    return build_app(settings)


@pytest.fixture
def app(settings: Settings, tmp_path: Any) -> Litestar:
    """The application as the API tests need it (overrides the root conftest's `app`)."""
    return build_test_app(api_settings(settings, str(tmp_path / "storage")))


@pytest.fixture
async def api_user(client: AsyncTestClient[Litestar]) -> ApiUser:
    return await signed_in_user(client)


@pytest.fixture
async def other_user(client: AsyncTestClient[Litestar]) -> ApiUser:
    return await signed_in_user(client)


@pytest.fixture
async def admin_user(client: AsyncTestClient[Litestar], settings: Settings) -> ApiUser:
    return await make_admin(client, settings)


@pytest.fixture
async def project(client: AsyncTestClient[Litestar], api_user: ApiUser) -> dict[str, Any]:
    return await create_project(client, api_user)


@dataclass
class InFlight:
    """Counts requests being served at once, to show that a test's requests really overlapped."""

    current: int = 0
    peak: int = 0

    def wrap(self, app: Any) -> Any:
        async def counting_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            self.current += 1
            self.peak = max(self.peak, self.current)
            try:
                await app(scope, receive, send)
            finally:
                self.current -= 1

        return counting_app


@asynccontextmanager
async def concurrent_client(app: Litestar, in_flight: InFlight | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that runs the app in THIS event loop, so that `asyncio.gather` over it is real
    concurrency (Litestar's AsyncTestClient hands each request to a portal thread, one at a time).

    Use it without the `client` fixture in the same test (both would share the database pool
    across two event loops), and enter it in the test body (the lifespan must end in its task).
    """
    asgi_app = in_flight.wrap(app) if in_flight else app
    async with app.lifespan():
        transport = httpx.ASGITransport(app=asgi_app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
            yield http


def cache_events(cache: str) -> tuple[float, float]:
    """(hits, misses) of one cache counted in this process so far (see app.lib.metrics)."""
    from prometheus_client import REGISTRY

    from app.lib.metrics import flush_counts

    flush_counts()

    def sample(outcome: str) -> float:
        value = REGISTRY.get_sample_value("concrete_agent_cache_events_total", {"outcome": outcome, "cache": cache})
        return value or 0.0

    return sample("hit"), sample("miss")
