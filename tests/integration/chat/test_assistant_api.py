"""The budget assistant over HTTP: answers from the data with their source, commands that make versions
through the REST edit path, ambiguity asked about, jobs started, and the answer sent live."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.models import Project
from app.domain.audits.jobs import audit_project
from tests.support.api import ApiUser, add_position, concurrent_client, create_project, signed_in_user
from tests.support.audit_budgets import PRICED_BUDGET, build_budget
from tests.support.channel_events import project_events
from tests.support.job_runs import Harness


async def ask(
    client: AsyncTestClient[Litestar], user: ApiUser, project_id: str, message: str, **extra: Any
) -> dict[str, Any]:
    headers = {**user.headers, **extra.pop("headers", {})}
    response = await client.post(
        f"/api/projects/{project_id}/chat", json={"message": message, **extra}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = dict(response.json())
    assert body["assistant"]["question_id"] == body["message"]["id"]
    return dict(body["assistant"])


async def small_budget(client: AsyncTestClient[Litestar], user: ApiUser) -> dict[str, Any]:
    """Foundations in SO 01 and SO 02 under one code, reinforcement and formwork in SO 01."""
    project = await create_project(client, user)
    pid = project["id"]
    for obj, quantity in (("SO 01", "20"), ("SO 02", "5")):
        await add_position(
            client,
            user,
            pid,
            code="273321311",
            description="Základy z betonu C 30/37",
            unit="m3",
            quantity=quantity,
            unit_price="3000.00",
            metadata={"object_code": obj},
        )
    await add_position(
        client,
        user,
        pid,
        code="273361821",
        description="Výztuž základů z betonářské oceli B500B",
        unit="t",
        quantity="2.4",
        unit_price="40000.00",
        metadata={"object_code": "SO 01"},
    )
    await add_position(
        client,
        user,
        pid,
        code="273351121",
        description="Bednění základů",
        unit="m2",
        quantity="40",
        unit_price=None,
        metadata={"object_code": "SO 01"},
    )
    return project


async def versions(client: AsyncTestClient[Litestar], user: ApiUser, project_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/projects/{project_id}/versions", headers=user.headers)
    return list(response.json()["items"])


async def test_questions_are_answered_from_the_data_with_their_source(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]

    concrete = await ask(client, api_user, pid, "Kolik stojí beton?")
    assert concrete["role"] == "assistant"
    assert "75\u00a0000,00\u00a0Kč" in concrete["message"]  # 20 × 3000 + 5 × 3000; reinforcement steel is not concrete
    assert concrete["answer_source"] == "positions of version 4: 2 rows matching 'beton'"
    assert concrete["context"]["version"] == 4
    assert concrete["context"]["filters"] == {"terms": ["beton"], "words": "beton"}
    assert float(concrete["answer_confidence"]) >= 90
    assert {p["code"] for p in concrete["positions"]} == {"273321311"}
    assert set(concrete["position_ids"]) == {p["id"] for p in concrete["positions"]}

    so1 = await ask(client, api_user, pid, "What does SO 1 cost?")
    assert "CZK 156,000.00 (3 positions)" in so1["message"]
    ratio = await ask(client, api_user, pid, "kolik výztuže na m3 betonu v SO 1")
    assert "120 kg/m3" in ratio["message"]
    unpriced = await ask(client, api_user, pid, "Najdi položky bez ceny")
    assert [p["code"] for p in unpriced["positions"]] == ["273351121"]
    changes = await ask(client, api_user, pid, "Co se změnilo ve verzi 4?")
    assert "přidáno 1, odebráno 0, změněno 0" in changes["message"]

    unknown = await ask(client, api_user, pid, "Jaké bude zítra počasí?")
    assert "nerozumím" in unknown["message"] and "Kolik stojí beton?" in unknown["message"]
    assert float(unknown["answer_confidence"]) == 0
    history = (await client.get(f"/api/projects/{pid}/chat", headers=api_user.headers)).json()
    assert history["total"] == 12
    assert [m["role"] for m in history["items"][-2:]] == ["user", "assistant"]
    assert history["items"][-1]["answer_source"] == unknown["answer_source"]


async def test_a_command_makes_a_version_through_the_edit_path(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]

    answer = await ask(client, api_user, pid, "Změň množství 273321311 v SO 2 na 12,5")

    [action] = answer["actions"]
    assert action["action"] == "set_quantity"
    assert action["before"] == {"quantity": "5.0000", "total_price": "15000.00"}
    assert action["after"] == {"quantity": "12.5000", "total_price": "37500.00"}
    assert action["result"]["status"] == "applied" and action["result"]["version"] == 5
    assert action["result"]["delta_cost"] == "22500.00"
    latest = (await versions(client, api_user, pid))[0]
    assert (latest["version"], latest["trigger_type"]) == (5, "chat_command")
    positions = (await client.get(f"/api/projects/{pid}/positions?code=273321311", headers=api_user.headers)).json()
    assert sorted(p["quantity"] for p in positions["items"]) == ["12.5000", "20.0000"]

    price = await ask(client, api_user, pid, "nastav cenu 273351121 na 4 900 Kč")
    assert price["actions"][0]["after"] == {"unit_price": "4900.00", "total_price": "196000.00"}
    removed = await ask(client, api_user, pid, "smaž položku 273361821")
    assert removed["actions"][0]["result"]["version"] == 7
    assert [v["version"] for v in await versions(client, api_user, pid)][:2] == [7, 6]


async def test_an_ambiguous_command_asks_and_changes_nothing(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]

    answer = await ask(client, api_user, pid, "Změň množství 273321311 na 35")

    assert answer["actions"][0]["result"]["status"] == "ambiguous"
    assert len(answer["actions"][0]["result"]["candidates"]) == 2
    assert "SO 01" in answer["message"] and "SO 02" in answer["message"]
    assert len(answer["positions"]) == 2
    assert len(await versions(client, api_user, pid)) == 4
    incomplete = await ask(client, api_user, pid, "Změň množství 273321311 v SO 1")
    assert incomplete["actions"][0]["result"]["status"] == "incomplete"
    assert len(await versions(client, api_user, pid)) == 4


async def test_a_stale_if_match_is_refused_before_anything_is_stored(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]
    response = await client.post(
        f"/api/projects/{pid}/chat",
        json={"message": "Změň množství 273321311 v SO 1 na 1"},
        headers={**api_user.headers, "If-Match": '"3"'},
    )
    assert response.status_code == 412
    assert response.json()["current_version"] == 4
    assert (await client.get(f"/api/projects/{pid}/chat", headers=api_user.headers)).json()["total"] == 0
    fresh = await ask(client, api_user, pid, "Změň množství 273321311 v SO 1 na 1", headers={"If-Match": '"4"'})
    assert fresh["actions"][0]["result"]["version"] == 5


async def test_the_position_sent_with_the_message_is_the_one_changed(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]
    listed = (await client.get(f"/api/projects/{pid}/positions?code=273321311", headers=api_user.headers)).json()
    second = listed["items"][1]
    answer = await ask(client, api_user, pid, "Smaž tuto položku", position_ids=[second["lineage_id"]])
    assert answer["actions"][0]["position"]["lineage_id"] == second["lineage_id"]
    remaining = (await client.get(f"/api/projects/{pid}/positions?code=273321311", headers=api_user.headers)).json()
    assert [p["lineage_id"] for p in remaining["items"]] == [listed["items"][0]["lineage_id"]]


async def test_findings_and_why_come_from_the_latest_audit(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    created = await create_project(client, api_user)
    [project] = await harness.scalars(select(Project).where(Project.id == uuid.UUID(created["id"])))
    await build_budget(harness, PRICED_BUDGET, project=project)
    await harness.run(audit_project, job_type="audit_project", project=project)
    pid = created["id"]
    await add_position(client, api_user, pid)  # a later version: the audit is found through the lineage

    red = await ask(client, api_user, pid, "Které položky jsou červené?")
    assert red["context"]["filters"]["statuses"] == ["RED"]
    assert red["context"]["audited_versions"] == [1]
    assert len(red["positions"]) == 3 and {p["status"] for p in red["positions"]} == {"RED"}
    assert "Důvod" in red["message"]

    why = await ask(client, api_user, pid, "Proč je 273313711 červená?")
    assert why["positions"][0]["code"] == "273313711"
    assert "concrete [červená]" in why["message"]
    assert why["answer_source"].startswith("audit_results of version 1:")


async def test_run_audit_and_export_start_the_same_jobs_as_rest(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]
    audit = await ask(client, api_user, pid, "Spusť audit")
    export = await ask(client, api_user, pid, "exportuj do csv")
    jobs = (await client.get(f"/api/projects/{pid}/jobs", headers=api_user.headers)).json()["items"]
    by_type = {job["job_type"]: job for job in jobs}
    assert by_type["audit_project"]["id"] == audit["actions"][0]["result"]["job_id"]
    assert by_type["export"]["id"] == export["actions"][0]["result"]["job_id"]
    assert export["actions"][0]["result"]["payload"] == {"format": "csv", "version": None}


async def test_an_export_of_a_missing_version_is_refused_and_queues_nothing(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]
    answer = await ask(client, api_user, pid, "exportuj do xlsx verzi 999")
    assert answer["actions"][0]["result"]["status"] == "invalid"
    assert "999" in answer["message"]
    # a version number too long to be one is said, not cut to its first digits or dropped for the latest
    huge = await ask(client, api_user, pid, "exportuj do csv verzi 99999999999999")
    assert "99999999999999" in huge["message"] and huge["context"]["intent"] == "export"
    assert [action["result"]["status"] for action in huge["actions"]] == ["invalid"]
    changes = await ask(client, api_user, pid, "Co se změnilo od verze 99999999999999999999?")
    assert "99999999999999999999" in changes["message"]
    jobs = (await client.get(f"/api/projects/{pid}/jobs", headers=api_user.headers)).json()["items"]
    assert [job for job in jobs if job["job_type"] == "export"] == []


async def test_a_command_without_its_value_says_so_in_plain_czech(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    answer = await ask(client, api_user, project["id"], "Změň množství 273321311 v SO 1 na 1e309")
    assert answer["actions"][0]["result"]["status"] == "incomplete"
    assert answer["message"].startswith(
        "Nic jsem neměnil: napište novou hodnotu („na 35“)."
    )  # was "chybí novou hodnotu"


async def test_the_answer_is_published_on_the_project_channel(
    client: AsyncTestClient[Litestar], settings: Settings, api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    async with project_events(settings, project["id"]) as events:
        answer = await ask(client, api_user, project["id"], "Změň množství 273321311 v SO 1 na 21")
        received = await events.until(
            lambda got: any(e["type"] == "chat_message" and e["data"]["role"] == "assistant" for e in got)
        )
    chats = [e["data"] for e in received if e["type"] == "chat_message"]
    assert [c["role"] for c in chats] == ["user", "assistant"]
    assert chats[1]["id"] == answer["id"] and chats[1]["positions"][0]["code"] == "273321311"
    types = {e["type"] for e in received}
    assert {"budget_recalculated", "position_updated"} <= types


async def test_another_users_project_is_not_found(
    client: AsyncTestClient[Litestar], api_user: ApiUser, other_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    response = await client.post(
        f"/api/projects/{project['id']}/chat", json={"message": "smaž položku 273361821"}, headers=other_user.headers
    )
    assert response.status_code == 404
    assert len(await versions(client, api_user, project["id"])) == 4
    jobs = await client.get(f"/api/projects/{project['id']}/jobs", headers=api_user.headers)
    assert jobs.json()["total"] == 0


async def test_odd_messages_never_give_a_5xx_and_change_nothing(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await small_budget(client, api_user)
    pid = project["id"]
    odd = [
        "x" * 20_000,
        "Co se změnilo ve verzi 999999?",
        "Co se změnilo od 31. 2.?",
        "changes since 2026-13-45",
        "Změň množství 273321311 v SO 1 na 99999999999999999999",
        "Změň množství 273321311 v SO 1 na 1,23456789",
        "Smaž položku „“",
        "Smaž položku 'Neexistující popis'",
        "Vyexportuj verzi 0 do xlsx",
        "Top 999 nejdražších položek",
        "Kolik stojí 🧱 beton 🏗️?",
        "kolik stoji SO 99999",
        "'; DROP TABLE positions; --",
        "Kolik výztuže na m3 betonu v SO 7?",
    ]
    for message in odd:
        response = await client.post(f"/api/projects/{pid}/chat", json={"message": message}, headers=api_user.headers)
        assert response.status_code == 201, (message, response.text)
    assert len(await versions(client, api_user, pid)) == 4


async def test_parallel_commands_on_different_positions_all_apply(app: Litestar) -> None:
    async with concurrent_client(app) as http:
        user = await signed_in_user(http)
        project = await small_budget(http, user)  # type: ignore[arg-type]
        pid = project["id"]
        messages = [
            "Změň množství 273321311 v SO 1 na 21",
            "Změň množství 273321311 v SO 2 na 6",
            "Nastav cenu 273351121 na 450",
            "Změň množství 273361821 na 2,5",
        ]
        responses = await asyncio.gather(
            *(http.post(f"/api/projects/{pid}/chat", json={"message": m}, headers=user.headers) for m in messages)
        )
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        results = [r.json()["assistant"]["actions"][0]["result"] for r in responses]
        assert {r["status"] for r in results} == {"applied"}
        assert sorted(r["version"] for r in results) == [5, 6, 7, 8]
        latest = (await http.get(f"/api/projects/{pid}/positions", headers=user.headers)).json()["items"]
    assert sorted(p["quantity"] for p in latest if p["code"] == "273321311") == ["21.0000", "6.0000"]
    assert next(p for p in latest if p["code"] == "273351121")["unit_price"] == "450.00"
    assert next(p for p in latest if p["code"] == "273361821")["quantity"] == "2.5000"


async def test_a_verdict_names_the_version_its_audit_audited(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    """A re-audit after an edit leaves unchanged rows shared with version 1 (their status is the same):
    its verdicts are still version 2's audit, not version 1's."""
    created = await create_project(client, api_user)
    [project] = await harness.scalars(select(Project).where(Project.id == uuid.UUID(created["id"])))
    await build_budget(harness, PRICED_BUDGET, project=project)
    await harness.run(audit_project, job_type="audit_project", project=project)
    pid = created["id"]
    await add_position(client, api_user, pid)
    await harness.run(audit_project, job_type="audit_project", project=project)

    red = await ask(client, api_user, pid, "Které položky jsou červené?")
    assert red["context"]["audited_versions"] == [2]
    why = await ask(client, api_user, pid, "Proč je 273313711 červená?")
    assert why["answer_source"].startswith("audit_results of version 2:")
