"""The audit over HTTP: the report grouped by position (owner or admin only), starting audits and enrichments."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.db.models import BackgroundJob, Project
from app.domain.audits.jobs import audit_project
from tests.support.api import ApiUser, create_project
from tests.support.audit_budgets import IN_ORDER, PRICED_BUDGET, BuiltBudget, budget_position, build_budget
from tests.support.job_runs import Harness


async def _audited_budget(client: AsyncTestClient[Litestar], owner: ApiUser, harness: Harness) -> BuiltBudget:
    created = await create_project(client, owner)
    [project] = await harness.scalars(select(Project).where(Project.id == uuid.UUID(created["id"])))
    budget = await build_budget(harness, PRICED_BUDGET, project=project)
    await harness.run(audit_project, job_type="audit_project", project=project)
    return budget


async def test_owner_reads_the_audit_grouped_by_position(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    budget = await _audited_budget(client, api_user, harness)

    response = await client.get(f"/api/projects/{budget.project.id}/audit", headers=api_user.headers)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["version"] == 1 and report["version_id"] == str(budget.version_id)
    assert report["summary"] == {
        "positions": 5,
        "red": 3,
        "amber": 1,
        "green": 1,
        "needs_review": 3,
        "priced": True,
        "findings": [],
        "resolved_red": 0,
        "resolved_amber": 0,
    }
    assert report["total"] == 5 and report["audited_at"] is not None
    first = report["items"][0]
    assert first["position_id"] == str(budget.position_ids[0])
    assert first["status"] == "RED" and first["verdict"]["expert_role"] == "orchestrator"
    assert [e["expert_role"] for e in first["experts"]] == ["validator", "standards", "concrete", "cost", "structural"]
    concrete = first["experts"][2]
    assert concrete["status"] == "RED" and concrete["issues"][0]["severity"] == "RED"
    assert set(first["verdict"]["conflicts_with"]) == {first["experts"][1]["id"], concrete["id"]}
    assert first["unit_price"] == "4340.00"


async def test_the_report_is_paginated_and_filtered_by_final_status(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    budget = await _audited_budget(client, api_user, harness)
    url = f"/api/projects/{budget.project.id}/audit"

    page = await client.get(url, params={"limit": 2, "offset": 1}, headers=api_user.headers)
    red = await client.get(url, params={"status": "RED"}, headers=api_user.headers)

    assert [item["position_id"] for item in page.json()["items"]] == [str(i) for i in budget.position_ids[1:3]]
    assert (page.json()["total"], page.json()["limit"], page.json()["offset"]) == (5, 2, 1)
    assert red.json()["total"] == 3 and {item["status"] for item in red.json()["items"]} == {"RED"}
    assert red.json()["summary"]["positions"] == 5  # the summary is of the whole version


async def test_other_users_get_404_and_administrators_see_it(
    client: AsyncTestClient[Litestar], api_user: ApiUser, other_user: ApiUser, admin_user: ApiUser, harness: Harness
) -> None:
    budget = await _audited_budget(client, api_user, harness)
    url = f"/api/projects/{budget.project.id}/audit"

    assert (await client.get(url, headers=other_user.headers)).status_code == 404
    assert (await client.post(url, headers=other_user.headers)).status_code == 404
    assert (
        await client.post(f"/api/projects/{budget.project.id}/enrich", headers=other_user.headers)
    ).status_code == 404
    assert (await client.get(url, headers=admin_user.headers)).status_code == 200
    assert (await client.get(f"/api/projects/{uuid.uuid4()}/audit", headers=api_user.headers)).status_code == 404


async def test_a_project_not_yet_audited_has_an_empty_report(
    client: AsyncTestClient[Litestar], api_user: ApiUser
) -> None:
    project = await create_project(client, api_user)
    response = await client.get(f"/api/projects/{project['id']}/audit", headers=api_user.headers)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == [] and response.json()["version"] is None


async def test_an_unpriced_budget_is_said_to_be_unpriced_once_in_the_summary(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    created = await create_project(client, api_user)
    [project] = await harness.scalars(select(Project).where(Project.id == uuid.UUID(created["id"])))
    blank = [budget_position(f"Hloubení rýh {n}", code="132151253", unit_price="0") for n in range(3)]
    await build_budget(harness, blank, project=project)
    await harness.run(audit_project, job_type="audit_project", project=project)
    response = await client.get(f"/api/projects/{project.id}/audit", headers=api_user.headers)
    assert response.status_code == 200, response.text
    summary = response.json()["summary"]
    assert summary["priced"] is False and summary["green"] == 3
    assert [finding["type"] for finding in summary["findings"]] == ["unpriced_budget"]


async def _job_payload(harness: Harness, job_id: str) -> dict[str, Any]:
    [(job_type, queue, payload)] = await harness.fetch(
        select(BackgroundJob.job_type, BackgroundJob.queue, BackgroundJob.payload).where(
            BackgroundJob.id == uuid.UUID(job_id)
        )
    )
    return {"job_type": job_type, "queue": queue, "payload": payload}


async def test_starting_audit_and_enrichment_jobs(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    project = await create_project(client, api_user)
    base = f"/api/projects/{project['id']}"

    audit = await client.post(f"{base}/audit", headers=api_user.headers)
    european = await client.post(f"{base}/audit", json={"exposure_table": "EN_206_F1"}, headers=api_user.headers)
    enrich = await client.post(f"{base}/enrich", headers=api_user.headers)
    enrich_only = await client.post(f"{base}/enrich", json={"then_audit": False}, headers=api_user.headers)
    bad = await client.post(f"{base}/audit", json={"table": "x"}, headers=api_user.headers)

    assert audit.status_code == 202, audit.text
    assert audit.json()["status"] == "queued"
    assert await _job_payload(harness, audit.json()["job_id"]) == {
        "job_type": "audit_project",
        "queue": "high",
        "payload": {},
    }
    assert (await _job_payload(harness, european.json()["job_id"]))["payload"] == {"exposure_table": "EN_206_F1"}
    assert await _job_payload(harness, enrich.json()["job_id"]) == {
        "job_type": "enrich",
        "queue": "default",
        "payload": {"then": ["audit_project"]},
    }
    assert (await _job_payload(harness, enrich_only.json()["job_id"]))["payload"] == {"then": []}
    assert bad.status_code == 400


async def test_an_unknown_exposure_table_is_refused_before_a_job_is_queued(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    project = await create_project(client, api_user)

    response = await client.post(
        f"/api/projects/{project['id']}/audit", json={"exposure_table": "nope"}, headers=api_user.headers
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["exposure_table"]
    assert "EN_206_F1" in response.json()["detail"]
    jobs = await harness.scalars(select(BackgroundJob).where(BackgroundJob.project_id == uuid.UUID(project["id"])))
    assert jobs == []


async def test_an_audit_of_a_newer_version_leaves_an_older_versions_audit_as_it_was(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    """Since revision 0005 an edit writes only what changed: versions 1 and 2 share the unchanged rows,
    and each version's audit, read later, still shows what that audit found."""
    budget = await _audited_budget(client, api_user, harness)
    url = f"/api/projects/{budget.project.id}/audit"
    first = await client.get(url, params={"version": 1}, headers=api_user.headers)
    assert first.status_code == 200, first.text
    [edited] = [item for item in first.json()["items"] if item["position_id"] == str(budget.position_ids[IN_ORDER])]

    patched = await client.patch(
        f"/api/projects/{budget.project.id}/positions/{edited['lineage_id']}",
        json={"quantity": "3"},
        headers=api_user.headers,
    )
    assert patched.status_code == 200, patched.text
    await harness.run(audit_project, job_type="audit_project", project=budget.project)

    again = await client.get(url, params={"version": 1}, headers=api_user.headers)
    latest = await client.get(url, headers=api_user.headers)
    assert again.json() == first.json()
    assert latest.json()["version"] == 2 and latest.json()["summary"]["positions"] == 5
    newer = {item["position_id"]: item for item in latest.json()["items"]}
    shared = [item for item in first.json()["items"] if item["position_id"] in newer]
    assert len(shared) == 4  # the unchanged positions: the same rows in both versions
    for older in shared:
        mine = newer[older["position_id"]]
        assert mine["verdict"]["id"] != older["verdict"]["id"]  # version 2's own audit
        assert {e["id"] for e in mine["experts"]}.isdisjoint(e["id"] for e in older["experts"])
        assert len(mine["experts"]) == len(older["experts"]) == 5


async def test_the_audit_of_a_version_the_project_does_not_have_is_404_naming_the_version(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    budget = await _audited_budget(client, api_user, harness)
    url = f"/api/projects/{budget.project.id}/audit"

    missing = await client.get(url, params={"version": 7}, headers=api_user.headers)
    bad = await client.get(url, params={"version": 0}, headers=api_user.headers)

    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["errors"][0]["field"] == "version"
    assert bad.status_code == 400 and "version" in bad.text
