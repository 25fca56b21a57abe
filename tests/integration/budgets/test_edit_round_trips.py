"""A position edit is the API's most frequent write: its database statements and Redis calls are
counted on the real servers, so that per-request overhead (a statement per step, a second session
to refresh the cache) does not creep back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.config import Settings
from app.lib.db import app_alchemy_config
from tests.support.api import (
    api_settings,
    build_test_app,
    concurrent_client,
    create_project,
    position_body,
    signed_in_user,
)

# BEGIN, the row lock, one read, one write, the totals, the totals onto version and project, COMMIT;
# no pre-ping (app.lib.db). Before: 22 statements (3 of them pre-pings) and a COPY.
MOST_STATEMENTS = 7


async def test_a_position_edit_sends_a_handful_of_statements(settings: Settings, tmp_path: Path) -> None:
    app = build_test_app(api_settings(settings, str(tmp_path / "storage")))
    engine = app_alchemy_config(app).get_engine()
    sent: list[str] = []

    def log(query: Any) -> None:
        sent.append(query.query)

    # Every connection of this app's pool logs what it sends from its start (BEGIN, COMMIT, pings and
    # the statements sent on asyncpg directly); SQLAlchemy's own statements are prepared, so they are
    # counted by its cursor event.
    def connected(dbapi_connection: Any, record: Any) -> None:
        record.driver_connection.add_query_logger(log)

    def executed(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine.pool, "connect", connected)
    event.listen(engine.sync_engine, "before_cursor_execute", executed)
    async with concurrent_client(app) as http:
        user = await signed_in_user(http)
        project = await create_project(http, user)
        url = f"/api/projects/{project['id']}/positions"
        lineages = []
        for number in range(3):
            added = await http.post(url, json=position_body(code=f"27{number}"), headers=user.headers)
            assert added.status_code == 201, added.text
            lineages.append(added.json()["position"]["lineage_id"])
        for quantity in ("3", "4"):  # the second edit is measured: every statement is prepared by then
            await asyncio.sleep(0)  # the loggers run soon after the statement: let the last ones in
            sent.clear()
            edited = await http.patch(f"{url}/{lineages[1]}", json={"quantity": quantity}, headers=user.headers)
            assert edited.status_code == 200, edited.text
        deadline = time.monotonic() + 2
        while not any(statement.strip().upper() == "COMMIT;" for statement in sent):
            assert time.monotonic() < deadline, sent
            await asyncio.sleep(0.01)
    assert edited.json()["position"]["quantity"] == "4.0000"
    assert len(sent) <= MOST_STATEMENTS, "\n".join(sent)
