"""Enrichment against the catalogue in PostgreSQL: exact code, concrete class, pg_trgm fuzzy match, reruns."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, select

from app.db.models import BackgroundJob, KBCache, Position, Project
from app.domain.budgets.queries import in_version_id
from app.domain.kb.enrichment import EnrichmentService
from app.domain.kb.jobs import enrich_project
from app.domain.kb.services import KnowledgeBase
from tests.support.audit_budgets import budget_position, build_budget
from tests.support.job_runs import Harness

SMALL_BUDGET = [
    budget_position(
        "Sejmutí ornice plochy do 500 m2 tl vrstvy do 200 mm strojně", code="121151113", unit="m2", unit_price="29.10"
    ),
    budget_position("Betonová mazanina tl. 15 cm C30/37 XA2", unit="m3", unit_price="4100.00"),
    budget_position("Základy z betonu C30/37", unit="M3", unit_price="6500.00"),
    budget_position(
        "Hloubení rýh nezapažených š do 2000 mm v hornině tř. těžitelnosti I skupiny 1 a 2 strojně",
        unit="m3",
        unit_price="340.00",
    ),
    budget_position("Montáž atypického zábradlí z nerezu", unit="kus", unit_price="15000.00"),
]


async def _enrichments(harness: Harness, version_id: Any) -> list[dict[str, Any]]:
    rows = await harness.fetch(
        select(Position.enrichment).where(in_version_id(version_id)).order_by(Position.source_line)
    )
    return [row[0] for row in rows]


async def test_enrichment_matches_by_each_rule_and_a_rerun_changes_nothing(harness: Harness) -> None:
    budget = await build_budget(harness, SMALL_BUDGET)

    first = await harness.run(enrich_project, job_type="enrich", project=budget.project, payload={"then": []})
    stored = await _enrichments(harness, budget.version_id)
    second = await harness.run(enrich_project, job_type="enrich", project=budget.project, payload={"then": []})

    exact, class_exposure, class_unit, fuzzy, nothing = stored
    assert exact["score"] == 1.0 and exact["match"]["code"] == "121151113"
    assert exact["evidence"] == {"rule": "exact_code", "code": "121151113", "unit_matches": True}
    assert class_exposure["score"] == 0.95 and class_exposure["match"]["code"] == "631315811"
    assert class_exposure["evidence"]["exposure_classes"] == ["XA2"]
    assert class_unit["score"] == 0.75 and class_unit["evidence"]["rule"] == "concrete_class_unit"
    assert fuzzy["evidence"]["rule"] == "fuzzy_description"
    assert fuzzy["match"]["code"] in {"132151253", "13273"}
    assert 0.3 <= fuzzy["score"] < 1.0 and fuzzy["score"] == fuzzy["candidates"][0]["score"]
    assert 1 <= len(fuzzy["candidates"]) <= 3
    assert all(c["unit"].lower() == "m3" for c in fuzzy["candidates"])
    assert nothing["match"] is None and nothing["score"] == 0.0 and nothing["evidence"]["rule"] == "none"

    assert first.result["updated"] == 5 and first.result["positions"] == 5
    assert first.result["by_rule"]["fuzzy_description"] == 1
    assert second.result["updated"] == 0  # idempotent: the same matches are not written again
    assert await _enrichments(harness, budget.version_id) == stored
    [(status, progress)] = await harness.fetch(
        select(Project.status, Project.progress).where(Project.id == budget.project.id)
    )
    assert status == "completed" and progress == 100
    assert any("Fuzzy catalogue search" in message for _, message, _ in first.progress.calls)


async def test_fuzzy_look_ups_need_no_query_per_description_and_then_are_cached(harness: Harness) -> None:
    fresh = [  # descriptions no other test looked up yet: the first run must search the catalogue
        budget_position(f"Hloubení rýh nezapažených v hornině strojně {uuid.uuid4().hex[:6]}", unit="m3"),
        budget_position(f"Zásyp rýh sypaninou se zhutněním {uuid.uuid4().hex[:6]}", unit="m3"),
        budget_position(f"Odvoz výkopku na skládku {uuid.uuid4().hex[:6]}", unit="t"),
    ]
    budget = await build_budget(harness, [*SMALL_BUDGET, *fresh])
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(harness.engine.sync_engine, "before_cursor_execute", record)
    try:
        knowledge = KnowledgeBase(harness.engine, harness.redis)
        async with harness.sessions() as session, session.begin():
            first = await EnrichmentService(session, knowledge).enrich(budget.project.id)
            first_run = list(statements)
            statements.clear()
            await EnrichmentService(session, knowledge).enrich(budget.project.id)
    finally:
        event.remove(harness.engine.sync_engine, "before_cursor_execute", record)

    assert first.fuzzy_lookups >= 3
    # The catalogue is read at most once (the process's trigram index), never once per description.
    assert not any("similarity(" in s for s in first_run)
    assert sum("FROM catalog_items ORDER BY" in s for s in first_run) <= 1
    assert not any("FROM catalog_items" in s for s in statements)
    counts = await harness.fetch(select(KBCache.access_count).where(KBCache.query_text.ilike("%zásyp rýh sypaninou%")))
    assert [count for (count,) in counts] == [2]  # stored by the first run, hit by the second


async def test_enrichment_queues_the_audit_and_the_project_moves_on(harness: Harness) -> None:
    budget = await build_budget(harness, SMALL_BUDGET[:2])

    run = await harness.run(
        enrich_project, job_type="enrich", project=budget.project, payload={"then": ["audit_project"]}
    )

    [queued] = run.result["queued"]
    assert queued["job_type"] == "audit_project"
    [(job_type, status, payload)] = await harness.fetch(
        select(BackgroundJob.job_type, BackgroundJob.status, BackgroundJob.payload).where(
            BackgroundJob.project_id == budget.project.id, BackgroundJob.job_type == "audit_project"
        )
    )
    assert (job_type, status) == ("audit_project", "queued")
    assert payload["then"] == [] and payload["queued_by_job_id"] == str(run.row.id)
    [(project_status,)] = await harness.fetch(select(Project.status).where(Project.id == budget.project.id))
    assert project_status == "auditing"


async def test_enrichment_of_a_project_without_a_budget_does_nothing(harness: Harness) -> None:
    project = await harness.project()
    run = await harness.run(enrich_project, job_type="enrich", project=project, payload={"then": ["audit_project"]})
    assert run.result["positions"] == 0 and run.result["queued"] == []
