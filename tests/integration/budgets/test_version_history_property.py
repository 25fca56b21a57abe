"""Property: whatever sequence of edits, additions, removals, re-imports, audits and enrichments a
project sees, every version reads exactly what it read right after it was made (its audit and its
enrichment aside, which only ever change that version), once per lineage, with its stored totals.

Versions share position rows (`valid_from <= n < valid_to`) and in-place writers split them
(`own_rows`), so this is what the row sharing must never break. Seeded random sequences, replayable.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db.models import AuditResult, BudgetVersion, Position
from app.domain.audits.services import ORCHESTRATOR, AuditService
from app.domain.budgets.changes import ChangeSet, NewPosition
from app.domain.budgets.queries import in_version, latest_version, version_positions
from app.domain.budgets.services import BudgetService
from app.domain.kb.enrichment import write_enrichment
from app.domain.kb.matching import EnrichmentMatch
from app.domain.kb.services import KnowledgeBase
from tests.support.audit_budgets import PRICED_BUDGET, build_budget
from tests.support.job_runs import Harness

STEPS = 30
# What a reader of a version sees of a position (ids aside: splitting a shared row gives it a new id).
Content = tuple[Any, ...]
Version = dict[uuid.UUID, Content]


def _content(row: Position) -> Content:
    return (
        row.code,
        row.description,
        row.quantity,
        row.unit_price,
        row.total_price,
        row.notes,
        row.status,
        row.confidence,
        row.enrichment,
        row.source_line,
    )


async def _history(harness: Harness, project_id: uuid.UUID) -> dict[int, Version]:
    async with harness.sessions() as session:
        versions = (await session.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project_id))).all()
        history: dict[int, Version] = {}
        for version in versions:
            rows = (await session.scalars(select(Position).where(in_version(version)))).all()
            assert len({row.lineage_id for row in rows}) == len(rows), f"a lineage twice in version {version.version}"
            assert version.total_positions == len(rows), version.version
            assert version.total_cost == sum((row.total_price or Decimal(0) for row in rows), Decimal(0))
            history[version.version] = {row.lineage_id: _content(row) for row in rows}
        # Each row's id is in one version's list only where that version owns it: verdicts follow.
        stray = await session.scalar(
            select(func.count())
            .select_from(AuditResult)
            .join(Position, Position.id == AuditResult.position_id)
            .join(BudgetVersion, BudgetVersion.id == AuditResult.version_id)
            .where(
                AuditResult.project_id == project_id,
                (Position.valid_from > BudgetVersion.version) | (Position.valid_to <= BudgetVersion.version),
            )
        )
        assert stray == 0, "a verdict on a row that is not in its audit's version"
        return history


# What an audit (status, confidence) and an enrichment write in place on their version's rows.
WRITTEN_BY = {"audit": {6, 7}, "enrich": {8}}


def _without(content: Version, action: str) -> Version:
    skipped = WRITTEN_BY[action]
    return {lineage: tuple(v for i, v in enumerate(values) if i not in skipped) for lineage, values in content.items()}


def _priced(rng: random.Random, number: int) -> NewPosition:
    template = PRICED_BUDGET[rng.randrange(len(PRICED_BUDGET))]
    values = {name: getattr(template, name) for name in template.__struct_fields__}
    values.update(code=f"{rng.randrange(100000, 999999)}", quantity=Decimal(rng.randrange(1, 50)), source_line=number)
    return NewPosition(**values)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_version_reads_what_it_read_when_it_was_made(harness: Harness, seed: int) -> None:
    rng = random.Random(seed)
    budget = await build_budget(harness, PRICED_BUDGET * 2)
    project_id = budget.project.id
    knowledge = KnowledgeBase(harness.engine, harness.redis)
    made = await _history(harness, project_id)  # version n as it was when made (and after its own writes)
    line = 100
    for step in range(STEPS):
        before = await _history(harness, project_id)
        latest_number = max(before)
        lineages = sorted(before[latest_number])
        action = rng.choice(["modify", "modify", "add", "remove", "reimport", "audit", "audit", "enrich"])
        if action in ("remove", "modify") and len(lineages) < 3:
            action = "add"
        written: int | None = None  # the version written in place (audit, enrichment)
        async with harness.sessions() as session:
            service = BudgetService(session=session)
            if action == "modify":
                target = rng.choice(lineages)
                change: dict[str, Any] = rng.choice(
                    [{"notes": f"krok {step}"}, {"quantity": Decimal(rng.randrange(1, 90))}, {"unit_price": Decimal(7)}]
                )
                await service.create_version(project_id, "user_edit", changes=ChangeSet(modified={target: change}))
            elif action == "add":
                line += 1
                await service.create_version(project_id, "user_edit", changes=ChangeSet(added=[_priced(rng, line)]))
            elif action == "remove":
                await service.create_version(project_id, "user_edit", changes=ChangeSet(removed=[rng.choice(lineages)]))
            elif action == "reimport":
                # The same file again with a few rows changed: matched rows keep their lineage.
                rows = await version_positions(session, (await latest_version(session, project_id))[1].id)  # type: ignore[union-attr]
                again = [
                    NewPosition(
                        description=row["description"],
                        code=row["code"],
                        unit=row["unit"],
                        quantity=row["quantity"] + (1 if rng.random() < 0.3 else 0) if row["quantity"] else None,
                        unit_price=row["unit_price"],
                        source_line=index,
                    )
                    for index, row in enumerate(rows)
                    if rng.random() < 0.9
                ]
                await service.create_version(project_id, "import", positions=again)
            elif action == "audit":
                await AuditService(session, knowledge).audit(project_id)
                written = latest_number
            else:
                _, version = await latest_version(session, project_id)
                assert version is not None
                rows = await version_positions(session, version.id)
                score = rng.random()
                matches = [EnrichmentMatch(match=None, score=score, evidence={"rule": "none"}) for _ in rows]
                await write_enrichment(session, [row["id"] for row in rows], matches, version=version)
                written = latest_number
            await session.commit()

        after = await _history(harness, project_id)
        for number, content in before.items():
            if number == written:
                assert _without(after[number], action) == _without(content, action), (seed, step, action, number)
                made[number] = after[number]
            else:
                assert after[number] == content, (seed, step, action, number)
        for number in after.keys() - before.keys():
            made[number] = after[number]
        if action == "audit":
            async with harness.sessions() as session:
                version = (await latest_version(session, project_id))[1]
                assert version is not None
                verdicts = await session.scalar(
                    select(func.count())
                    .select_from(AuditResult)
                    .where(AuditResult.version_id == version.id, AuditResult.expert_role == ORCHESTRATOR)
                )
            assert verdicts == len(after[latest_number]), (seed, step)

    final = await _history(harness, project_id)
    assert final == made
