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

# BEGIN, the row lock, one read, one write, the totals onto version and project, COMMIT; no pre-ping
# (app.lib.db). Before: 23 round trips (6 of them pre-pings) and a COPY.
MOST_STATEMENTS = 6


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


async def test_an_edit_stores_the_totals_summarise_version_makes(
    settings: Settings, client: Any, api_user: Any, project: dict[str, Any]
) -> None:
    """The edit computes the totals, the summary and the project's counts in its own statement: they are
    what `summarise_version` makes of the same version (objects and categories in code point order,
    those without one last, the audit counts by verdict)."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from app.db.models import BudgetVersion, Project
    from app.domain.budgets.summary import summarise_version

    url = f"/api/projects/{project['id']}/positions"
    bodies = [
        position_body(code="1", category="Zemní práce", status="RED", metadata={"object_code": "SO 201"}),
        position_body(code="2", category="zemní práce", status="AMBER", metadata={"object_code": "SO 101"}),
        position_body(code="3", category=None, status="GREEN", metadata={"object_code": ""}),
        position_body(code="4", category="Beton", status=None),
        position_body(code="5", category="Ábel", quantity="-2", metadata={"object_code": "Šachta"}),
    ]
    lineages = []
    for body in bodies:
        added = await client.post(url, json=body, headers=api_user.headers)
        assert added.status_code == 201, added.text
        lineages.append(added.json()["position"]["lineage_id"])
    for lineage, change in zip(
        lineages, [{"status": "GREEN"}, {"quantity": "7.5"}, {"category": "Beton"}, {"status": "RED"}], strict=False
    ):
        assert (await client.patch(f"{url}/{lineage}", json=change, headers=api_user.headers)).status_code == 200
    removed = await client.delete(f"{url}/{lineages[4]}", headers=api_user.headers)
    assert removed.status_code == 200, removed.text

    engine = create_async_engine(settings.database_url)
    try:
        async with AsyncSession(engine) as session:
            versions = (
                await session.scalars(
                    select(BudgetVersion)
                    .where(BudgetVersion.project_id == project["id"])
                    .order_by(BudgetVersion.version)
                )
            ).all()
            assert len(versions) == 10
            for version in versions:
                stored = (version.summary, version.total_positions, version.total_cost)
                totals = await summarise_version(session, version)
                assert stored == (version.summary, totals.positions, totals.total_cost), version.version
            stored_project = await session.get(Project, project["id"])
            assert stored_project is not None
            assert (stored_project.issues_count_red, stored_project.issues_count_amber) == (
                totals.open["RED"],
                totals.open["AMBER"],
            )
            assert stored_project.issues_count_green == totals.open["GREEN"]
            assert stored_project.total_cost == totals.total_cost
            await session.rollback()
    finally:
        await engine.dispose()
