"""Resolving audit findings: who, when and how; counted beside the open ones; kept through a re-audit of an
unchanged position, re-judged when the position changes; reopened; announced on the project channel."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.config import Settings
from app.db.models import Project
from app.domain.audits.jobs import audit_project
from tests.support.api import ApiUser, create_project
from tests.support.audit_budgets import PRICED_BUDGET, build_budget
from tests.support.channel_events import project_events
from tests.support.job_runs import Harness


async def _audited(client: AsyncTestClient[Litestar], owner: ApiUser, harness: Harness) -> Project:
    created = await create_project(client, owner)
    [project] = await harness.scalars(select(Project).where(Project.id == uuid.UUID(created["id"])))
    await build_budget(harness, PRICED_BUDGET, project=project)
    await harness.run(audit_project, job_type="audit_project", project=project)
    return project


async def _report(client: AsyncTestClient[Litestar], owner: ApiUser, project: Project) -> dict[str, Any]:
    response = await client.get(f"/api/projects/{project.id}/audit", headers=owner.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _red_items(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in report["items"] if item["status"] == "RED"]


async def _project(client: AsyncTestClient[Litestar], owner: ApiUser, project: Project) -> dict[str, Any]:
    return dict((await client.get(f"/api/projects/{project.id}", headers=owner.headers)).json())


async def test_resolve_counts_it_beside_the_open_ones_and_survives_a_reaudit(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness, settings: Settings
) -> None:
    project = await _audited(client, api_user, harness)
    before = await _report(client, api_user, project)
    assert (before["summary"]["red"], before["summary"]["resolved_red"]) == (3, 0)
    assert (await _project(client, api_user, project))["issues_count_red"] == 3  # cached now
    finding = _red_items(before)[0]["verdict"]
    url = f"/api/projects/{project.id}/audit/findings/{finding['id']}/resolution"

    async with project_events(settings, str(project.id)) as events:
        response = await client.post(
            url, json={"resolution": "accepted_as_is", "note": "Ověřeno se statikem."}, headers=api_user.headers
        )
        received = await events.until(lambda got: any(e["type"] == "finding_resolved" for e in got))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resolved"] is True and body["resolution"]["resolution"] == "accepted_as_is"
    assert body["resolution"]["note"] == "Ověřeno se statikem." and body["resolution"]["resolved_by"] == api_user.id
    assert (body["issues_count_red"], body["issues_resolved_red"]) == (2, 1)
    event = next(e for e in received if e["type"] == "finding_resolved")
    assert event["data"]["id"] == finding["id"] and event["data"]["by"] == api_user.id

    state = await _project(client, api_user, project)  # the cached state was dropped
    assert (state["issues_count_red"], state["issues_resolved_red"]) == (2, 1)
    report = await _report(client, api_user, project)
    assert (report["summary"]["red"], report["summary"]["resolved_red"]) == (2, 1)
    assert next(i for i in report["items"] if i["verdict"]["id"] == finding["id"])["verdict"]["resolved"] is True

    await harness.run(audit_project, job_type="audit_project", project=project)  # same version, new verdict rows
    again = await _report(client, api_user, project)
    assert (again["summary"]["red"], again["summary"]["resolved_red"]) == (2, 1)
    same_position = next(i for i in again["items"] if i["lineage_id"] == _red_items(before)[0]["lineage_id"])
    assert same_position["verdict"]["id"] != finding["id"] and same_position["verdict"]["resolved"] is True


async def test_a_changed_position_is_judged_again_an_unchanged_one_keeps_its_resolution(
    client: AsyncTestClient[Litestar], api_user: ApiUser, harness: Harness
) -> None:
    project = await _audited(client, api_user, harness)
    first, second = _red_items(await _report(client, api_user, project))[:2]
    for item in (first, second):
        url = f"/api/projects/{project.id}/audit/findings/{item['verdict']['id']}/resolution"
        response = await client.post(url, json={"resolution": "disputed"}, headers=api_user.headers)
        assert response.status_code == 200, response.text
    assert (await _project(client, api_user, project))["issues_resolved_red"] == 2

    edited = await client.patch(
        f"/api/projects/{project.id}/positions/{first['position_id']}",
        json={"quantity": "99"},
        headers=api_user.headers,
    )
    assert edited.status_code == 200, edited.text
    state = await _project(client, api_user, project)  # version 2, not audited yet: counted from lineages
    assert (state["current_version"], state["issues_count_red"], state["issues_resolved_red"]) == (2, 2, 1)

    await harness.run(audit_project, job_type="audit_project", project=project)
    report = await _report(client, api_user, project)
    by_lineage = {item["lineage_id"]: item for item in report["items"]}
    assert by_lineage[second["lineage_id"]]["verdict"]["resolved"] is True
    assert by_lineage[first["lineage_id"]]["verdict"]["resolved"] is False  # changed: open again
    assert report["summary"]["resolved_red"] == 1


async def test_reopen_and_refusals(
    client: AsyncTestClient[Litestar], api_user: ApiUser, other_user: ApiUser, harness: Harness
) -> None:
    project = await _audited(client, api_user, harness)
    finding = _red_items(await _report(client, api_user, project))[0]["verdict"]
    url = f"/api/projects/{project.id}/audit/findings/{finding['id']}/resolution"

    bad = await client.post(url, json={"resolution": "ignored"}, headers=api_user.headers)
    assert bad.status_code == 400 and "resolution" in bad.text
    theirs = await client.post(url, json={"resolution": "fixed"}, headers=other_user.headers)
    assert theirs.status_code == 404
    unknown = await client.post(
        f"/api/projects/{project.id}/audit/findings/{uuid.uuid4()}/resolution",
        json={"resolution": "fixed"},
        headers=api_user.headers,
    )
    assert unknown.status_code == 404
    assert (await _project(client, api_user, project))["issues_resolved_red"] == 0  # nothing changed

    assert (await client.post(url, json={"resolution": "fixed"}, headers=api_user.headers)).status_code == 200
    reopened = await client.delete(url, headers=api_user.headers)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["resolved"] is False and reopened.json()["resolution"] is None
    assert (reopened.json()["issues_count_red"], reopened.json()["issues_resolved_red"]) == (3, 0)
