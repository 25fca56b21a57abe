"""The audit end to end on a small budget: verdicts stored per expert, positions and project updated."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import func, select

from app.db.models import AuditResult, Position, Project
from app.domain.audits.jobs import audit_project
from app.domain.audits.services import AuditService
from app.domain.budgets.queries import in_version_id
from app.domain.kb.services import KnowledgeBase
from tests.support.audit_budgets import (
    CONCRETE_TOO_WEAK,
    IN_ORDER,
    PRICED_BUDGET,
    UNIT_MISMATCH,
    WRONG_TOTAL,
    ZERO_PRICE,
    BuiltBudget,
    budget_position,
    build_budget,
)
from tests.support.job_runs import Harness


async def _verdicts(harness: Harness, budget: BuiltBudget) -> dict[tuple[int, str], AuditResult]:
    rows = await harness.scalars(select(AuditResult).where(AuditResult.version_id == budget.version_id))
    index = {position_id: i for i, position_id in enumerate(budget.position_ids)}
    return {(index[row.position_id], row.expert_role): row for row in rows}


async def test_audit_finds_each_kind_of_error_and_stores_every_verdict(harness: Harness) -> None:
    budget = await build_budget(harness, PRICED_BUDGET)

    run = await harness.run(audit_project, job_type="audit_project", project=budget.project)
    verdicts = await _verdicts(harness, budget)

    assert len(verdicts) == len(PRICED_BUDGET) * 6
    assert verdicts[(CONCRETE_TOO_WEAK, "concrete")].status == "RED"
    assert verdicts[(CONCRETE_TOO_WEAK, "orchestrator")].status == "RED"
    assert verdicts[(UNIT_MISMATCH, "standards")].status == "RED"
    assert any(issue["type"] == "unit_mismatch" for issue in verdicts[(UNIT_MISMATCH, "standards")].issues)
    assert verdicts[(UNIT_MISMATCH, "orchestrator")].status == "RED"
    assert verdicts[(ZERO_PRICE, "validator")].status == "AMBER"
    assert verdicts[(ZERO_PRICE, "orchestrator")].status == "AMBER"
    assert verdicts[(WRONG_TOTAL, "validator")].status == "RED"
    assert verdicts[(WRONG_TOTAL, "orchestrator")].status == "RED"
    assert verdicts[(IN_ORDER, "orchestrator")].status == "GREEN"

    statuses = await harness.fetch(
        select(Position.status, Position.confidence)
        .where(in_version_id(budget.version_id))
        .order_by(Position.source_line)
    )
    assert [s for s, _ in statuses] == ["RED", "RED", "AMBER", "RED", "GREEN"]
    assert all(Decimal(0) < confidence <= Decimal(100) for _, confidence in statuses)
    [project] = await harness.scalars(select(Project).where(Project.id == budget.project.id))
    assert (project.issues_count_red, project.issues_count_amber, project.issues_count_green) == (3, 1, 1)
    assert project.status == "completed" and project.progress == Decimal(100) and project.completed_at is not None
    assert run.result["results_written"] == 30 and run.result["red"] == 3
    messages = [message for _, message, _ in run.progress.calls]
    assert "Auditing position 1/5: Základové desky z betonu C25/30 XD3" in messages
    assert "Auditing position 5/5: Hloubení rýh š do 2000 mm objem do 100 m3 strojně" in messages


async def test_conflicts_point_at_the_rows_of_the_disagreeing_experts(harness: Harness) -> None:
    budget = await build_budget(harness, PRICED_BUDGET[:1])
    await harness.run(audit_project, job_type="audit_project", project=budget.project)
    verdicts = await _verdicts(harness, budget)

    final = verdicts[(0, "orchestrator")]
    concrete, standards = verdicts[(0, "concrete")], verdicts[(0, "standards")]
    assert set(final.conflicts_with) == {concrete.id, standards.id}
    assert final.metadata_["conflicting_roles"] == ["concrete", "standards"]
    assert "stricter concrete class wins" in (final.resolution or "")
    assert concrete.conflicts_with == [standards.id] and standards.conflicts_with == [concrete.id]
    assert standards.metadata_["claims"]["concrete_class"] == "C20/25"
    assert concrete.metadata_["claims"]["concrete_class"] == "C25/30"
    assert final.metadata_["needs_review"] is True


async def test_a_reaudit_replaces_the_earlier_audit_of_the_version(harness: Harness) -> None:
    budget = await build_budget(harness, PRICED_BUDGET)
    first = await harness.run(audit_project, job_type="audit_project", project=budget.project)
    first_ids = {row.id for row in (await _verdicts(harness, budget)).values()}
    second = await harness.run(audit_project, job_type="audit_project", project=budget.project)

    verdicts = await _verdicts(harness, budget)
    [(total,)] = await harness.fetch(
        select(func.count()).select_from(AuditResult).where(AuditResult.project_id == budget.project.id)
    )
    assert total == len(verdicts) == len(PRICED_BUDGET) * 6
    assert first.result["results_replaced"] == 0 and second.result["results_replaced"] == 30
    assert first_ids.isdisjoint({row.id for row in verdicts.values()})
    assert Counter(row.status for (_, role), row in verdicts.items() if role == "orchestrator") == {
        "RED": 3,
        "AMBER": 1,
        "GREEN": 1,
    }


async def test_a_blank_budget_is_not_blamed_for_missing_prices(harness: Harness) -> None:
    blank = [
        budget_position("Hloubení jam nezapažených do 50 m3 strojně", code="131151102", unit="m3", unit_price="0"),
        budget_position("Hloubení rýh š do 2000 mm", code="132151253", unit="m3", unit_price=None),
    ]
    budget = await build_budget(harness, blank)
    run = await harness.run(audit_project, job_type="audit_project", project=budget.project)
    verdicts = await _verdicts(harness, budget)
    assert verdicts[(0, "validator")].status == "GREEN"
    assert verdicts[(0, "orchestrator")].status == "GREEN"
    assert not any("price" in issue["type"] for row in verdicts.values() for issue in row.issues)
    # said once, for the whole budget
    assert run.result["priced"] is False
    [finding] = run.result["budget_findings"]
    assert finding["type"] == "unpriced_budget" and finding["severity"] == "GREEN"
    assert "none of its 2 positions" in finding["description"]


async def test_the_service_audits_only_the_latest_version(harness: Harness) -> None:
    first = await build_budget(harness, PRICED_BUDGET[:2])
    latest = await build_budget(harness, PRICED_BUDGET[2:], project=first.project)

    async with harness.sessions() as session, session.begin():
        outcome = await AuditService(session, KnowledgeBase(harness.engine, harness.redis)).audit(first.project.id)

    assert outcome.version == 2 and outcome.positions == 3
    rows = await harness.fetch(
        select(AuditResult.version_id, func.count())
        .where(AuditResult.project_id == first.project.id)
        .group_by(AuditResult.version_id)
    )
    assert rows == [(latest.version_id, 18)]


async def test_an_unknown_exposure_table_fails_the_job_for_good(harness: Harness) -> None:
    import pytest

    from app.domain.jobs.context import PermanentJobError

    budget = await build_budget(harness, PRICED_BUDGET[:1])
    with pytest.raises(PermanentJobError, match="exposure table"):
        await harness.run(
            audit_project, job_type="audit_project", project=budget.project, payload={"exposure_table": "ISO"}
        )


async def test_the_en_206_table_is_stricter(harness: Harness) -> None:
    position = budget_position("Základové desky z betonu C25/30 XC4", code="273313711", unit="m3", unit_price="4340.00")
    budget = await build_budget(harness, [position])
    national = await harness.run(audit_project, job_type="audit_project", project=budget.project)
    national_verdict = (await _verdicts(harness, budget))[(0, "concrete")].status
    european = await harness.run(
        audit_project, job_type="audit_project", project=budget.project, payload={"exposure_table": "EN_206_F1"}
    )
    european_verdict = (await _verdicts(harness, budget))[(0, "concrete")].status

    assert national.result["exposure_table"] == "CSN_P_73_2404" and national_verdict == "GREEN"
    assert european.result["exposure_table"] == "EN_206_F1" and european_verdict == "RED"
