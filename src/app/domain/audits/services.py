"""Auditing a project's latest budget version against the catalogue in PostgreSQL, and reading the result.

PUBLIC:
    outcome = await AuditService(session, knowledge).audit(project_id, progress=..., job_id=...)
    report = await audit_report(session, redis, actor, project_id, limit_offset, status=None, ttl_seconds=...)

``audit`` runs in the caller's transaction (the job's) and does not commit. It reads the positions
(one query), builds the context from the knowledge base (batched look-ups: the budget's codes, the
chapters of unknown codes, the catalogue families, the reference tables), runs the pure
``audit_budget`` in a worker thread (a 10,000-position budget keeps the event loop free for
heartbeats), then — under the project's row lock — replaces the version's earlier audit: one DELETE,
one COPY of every verdict (one row per expert per position plus the orchestrator's; the rows are
made while the COPY sends them, so PostgreSQL stores the first while Python builds the next), one
UPDATE of the positions' status and confidence, and the project's counters and status.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from advanced_alchemy.filters import LimitOffset
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditResult, BudgetVersion, Position, utc_now
from app.domain.accounts.sessions import SessionUser
from app.domain.audits.experts import (
    AuditContext,
    AuditPosition,
    AuditSettings,
    BudgetPricing,
    Issue,
    PositionAudit,
    audit_budget,
    budget_pricing,
)
from app.domain.audits.resolutions import has_resolutions, sync_resolved_flags
from app.domain.audits.results import AUDIT_RESULT_COLUMNS, AuditRecord, position_records
from app.domain.audits.schemas import AuditReport, AuditSummary, IssueRead, PositionAuditRead, VerdictRead
from app.domain.budgets.queries import BUDGET_ORDER, IN_VERSION_SQL, in_version_id, latest_version, version_positions
from app.domain.budgets.rows import own_rows, rows_now
from app.domain.budgets.summary import VersionTotals, summarise_version
from app.domain.kb.matching import MatchCandidate
from app.domain.kb.reference import ExposureTable, ExposureTables
from app.domain.kb.services import KnowledgeBase
from app.domain.projects.services import get_project_state, lock_project
from app.domain.projects.stages import ProgressCallback, report_nothing
from app.lib.db import copy_rows
from app.lib.errors import InvalidInput, NotFound, field_error

ORCHESTRATOR = "orchestrator"
EXPERT_ORDER = ("validator", "standards", "concrete", "cost", "structural")
_PROGRESS_LABEL_LENGTH = 60
# Progress names every PROGRESS_EVERY-th position (and the first and the last): the reporter sends at
# most ~10 events a second anyway, so a call per position (a label, an event dict, the throttle, the
# project's mirror) was 2,000 calls for a handful of events.
PROGRESS_EVERY = 25

# The version's own verdicts on its rows (and version-less ones): a row shared with other versions
# carries each audited version's verdicts, and the other versions' audits keep theirs.
_DELETE_VERSION_AUDIT = text(
    f"""
    DELETE FROM audit_results AS a USING budget_versions AS v, positions AS p
    WHERE v.id = :version_id AND {IN_VERSION_SQL} AND a.position_id = p.id
      AND (a.version_id = v.id OR a.version_id IS NULL)
    """
)
_VERDICTS = "unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:confidences AS numeric[]))"
# Rows made the version's own before their status is written: those whose verdict changes.
_CHANGING_VERDICTS = text(
    f"""
    SELECT p.id FROM positions AS p JOIN {_VERDICTS} AS v(id, status, confidence) ON p.id = v.id
    WHERE (p.status, p.confidence) IS DISTINCT FROM (v.status, v.confidence)
    """
)
_WRITE_POSITION_VERDICTS = text(
    f"""
    UPDATE positions AS p SET status = v.status, confidence = v.confidence
    FROM {_VERDICTS} AS v(id, status, confidence)
    WHERE p.id = v.id AND (p.status, p.confidence) IS DISTINCT FROM (v.status, v.confidence)
    """
)


class AuditOutcome(msgspec.Struct, kw_only=True):
    """What one audit run did (also the job's result); ``seconds`` times each phase."""

    project_id: uuid.UUID
    version: int | None
    positions: int
    results_written: int
    results_replaced: int
    red: int
    amber: int
    green: int
    needs_review: int
    exposure_table: str | None
    reference_versions: dict[str, str]
    seconds: dict[str, float]
    priced: bool = True
    # Findings about the budget as a whole (an unpriced tender budget is said to be so here, once).
    budget_findings: list[Issue] = msgspec.field(default_factory=list)


def _candidates(row: Mapping[str, Any]) -> list[MatchCandidate]:
    enrichment = row.get("enrichment") or {}
    raw = enrichment.get("candidates") if isinstance(enrichment, Mapping) else None
    if not raw:
        return []
    try:
        return msgspec.convert(raw, list[MatchCandidate])
    except msgspec.ValidationError:
        return []


def _label(position: AuditPosition) -> str:
    text_ = " ".join((position.description or position.code or "").split())
    return text_ if len(text_) <= _PROGRESS_LABEL_LENGTH else text_[: _PROGRESS_LABEL_LENGTH - 1] + "…"


def exposure_table_named(tables: ExposureTables, name: str | None) -> ExposureTable:
    """The named exposure table (the default one for None); 400 naming `exposure_table` when unknown."""
    try:
        return tables.table(name)
    except KeyError:
        names = ", ".join(tables.names)
        raise InvalidInput(
            f"Unknown exposure table {name!r}; use one of {names}.",
            errors=[field_error("exposure_table", f"one of {names}")],
        ) from None


class AuditService:
    """Audits the latest version of a project's budget and stores every verdict."""

    def __init__(self, session: AsyncSession, knowledge: KnowledgeBase, *, settings: AuditSettings | None = None):
        self.session = session
        self.knowledge = knowledge
        self.settings = settings or AuditSettings()

    async def audit(
        self,
        project_id: uuid.UUID,
        *,
        progress: ProgressCallback = report_nothing,
        exposure_table: str | None = None,
        job_id: uuid.UUID | None = None,
    ) -> AuditOutcome:
        """Audit in the caller's transaction (the caller commits); a re-audit replaces the version's audit."""
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        project, version = await latest_version(self.session, project_id)
        table_name = exposure_table or (project.metadata_ or {}).get("exposure_table")
        rows = await version_positions(self.session, version.id) if version is not None else []
        positions = [AuditPosition.from_row(row) for row in rows]
        seconds["load_positions"] = time.perf_counter() - started
        await progress(0.05, f"Loaded {len(positions)} positions", current_step="load", total_steps=4)

        mark = time.perf_counter()
        reference = await self.knowledge.reference_data()
        table = exposure_table_named(reference.exposure_tables, table_name)
        catalog = await self.knowledge.audit_catalog(positions)
        candidates = {
            position.id: found for position, row in zip(positions, rows, strict=True) if (found := _candidates(row))
        }
        context = AuditContext.for_budget(
            positions,
            catalog=catalog,
            exposure_table=table,
            price_bands=reference.price_bands.bands,
            candidates=candidates,
            settings=self.settings,
        )
        seconds["context"] = time.perf_counter() - mark
        await progress(0.1, "Running the experts", current_step="audit")

        mark = time.perf_counter()
        audits: list[PositionAudit] = await asyncio.to_thread(audit_budget, positions, context) if positions else []
        seconds["audit"] = time.perf_counter() - mark

        results = sum(len(audit.verdicts) + 1 for audit in audits) if version is not None else 0
        mark = time.perf_counter()
        replaced = await self._store(project_id, version, positions, audits, rows, progress=progress, job_id=job_id)
        seconds["write"] = time.perf_counter() - mark
        seconds["total"] = time.perf_counter() - started

        statuses = Counter(audit.status.value for audit in audits)
        pricing = budget_pricing(positions, self.settings.priced_share)
        return AuditOutcome(
            project_id=project_id,
            version=version.version if version is not None else None,
            positions=len(positions),
            results_written=results,
            results_replaced=replaced,
            red=statuses.get("RED", 0),
            amber=statuses.get("AMBER", 0),
            green=statuses.get("GREEN", 0),
            needs_review=sum(1 for audit in audits if audit.needs_review),
            exposure_table=table.name,
            reference_versions={**reference.versions, "code_classes": context.classes.edition},
            seconds={name: round(value, 4) for name, value in seconds.items()},
            priced=pricing.priced,
            budget_findings=[finding] if (finding := pricing.finding) is not None else [],
        )

    async def _store(
        self,
        project_id: uuid.UUID,
        version: BudgetVersion | None,
        positions: Sequence[AuditPosition],
        audits: Sequence[PositionAudit],
        rows: Sequence[Mapping[str, Any]],
        *,
        progress: ProgressCallback,
        job_id: uuid.UUID | None,
    ) -> int:
        """Under the project's row lock: replace the version's audit, mark positions, update the project."""
        session = self.session
        project = await lock_project(session, None, project_id)
        replaced = 0
        if version is not None:
            # The rows were read before the lock: another audit may have given the version copies since.
            now = await rows_now(session, version, [row["id"] for row in rows])
            verdicts = {
                "ids": [now[row["id"]] for row in rows],
                "statuses": [audit.final.status.value for audit in audits],
                "confidences": [audit.final.confidence for audit in audits],
            }
            # Other versions sharing a row keep their status (and their audits' verdicts move with them).
            changing = list((await session.scalars(_CHANGING_VERDICTS, verdicts)).all())
            await own_rows(session, version, changing)
            result = await session.execute(_DELETE_VERSION_AUDIT, {"version_id": version.id})
            replaced = int(getattr(result, "rowcount", 0) or 0)
            records = _verdict_records(positions, audits, rows, now, project_id, version.id, job_id, progress)
            await copy_audit_records(session, records)
            await progress(0.92, f"Stored {len(audits)} positions' verdicts", current_step="write")
            await session.execute(_WRITE_POSITION_VERDICTS, verdicts)
            # Resolutions of unchanged positions carry over to the new verdicts; changed ones are open.
            # The new rows start unresolved, so without any resolution there is nothing to carry over.
            if await has_resolutions(session, project_id):
                await sync_resolved_flags(session, project_id, version.id)
            totals = await summarise_version(session, version)
            if project.current_version == version.version:
                totals.apply_to(project)
        else:
            VersionTotals().apply_to(project)  # no budget yet: nothing to count
        project.status = "completed"
        project.progress = Decimal(100)
        project.completed_at = utc_now()
        await session.flush()
        return replaced


async def _verdict_records(
    positions: Sequence[AuditPosition],
    audits: Sequence[PositionAudit],
    rows: Sequence[Mapping[str, Any]],
    row_now: Mapping[uuid.UUID, uuid.UUID],
    project_id: uuid.UUID,
    version_id: uuid.UUID,
    job_id: uuid.UUID | None,
    progress: ProgressCallback,
) -> AsyncIterator[AuditRecord]:
    """The audit_results rows of every position, made while the COPY runs: PostgreSQL stores (checks,
    indexes) the rows sent so far while the next ones are built, instead of waiting for all of them."""
    total = len(audits)
    for index, (position, audit, row) in enumerate(zip(positions, audits, rows, strict=True), start=1):
        if index % PROGRESS_EVERY == 1 or index == total:
            await progress(
                0.3 + 0.6 * index / total,
                f"Auditing position {index}/{total}: {_label(position)}",
                current_step="audit",
            )
        for record in position_records(
            audit, position_id=row_now[row["id"]], project_id=project_id, version_id=version_id, job_id=job_id
        ):
            yield record


async def copy_audit_records(
    session: AsyncSession, records: Sequence[AuditRecord] | AsyncIterator[AuditRecord]
) -> None:
    """COPY the records into audit_results on the session's own connection (inside its transaction)."""
    await copy_rows(session, "audit_results", AUDIT_RESULT_COLUMNS, records)


# ------------------------------------------------------------------------------------------ reading


async def _version_pricing(session: AsyncSession, version_id: uuid.UUID) -> BudgetPricing:
    """Whether the version is a priced budget (the same rule the audit applied), from two counts."""
    row = (
        await session.execute(
            select(func.count(), func.count().filter(Position.unit_price > 0)).where(in_version_id(version_id))
        )
    ).one()
    return BudgetPricing.of_counts(int(row[0]), int(row[1]), AuditSettings().priced_share)


async def audit_report(
    session: AsyncSession,
    redis: Redis,
    actor: SessionUser,
    project_id: uuid.UUID,
    limit_offset: LimitOffset,
    *,
    status: str | None = None,
    version_number: int | None = None,
    ttl_seconds: int,
) -> AuditReport:
    """The audit of the latest version (or of `version_number`) grouped by position: what that version's
    own audit found, whatever later audits found (owner or administrator; others get 404)."""
    state = await get_project_state(session, redis, actor, project_id, ttl_seconds=ttl_seconds)
    empty_summary = AuditSummary(positions=0, red=0, amber=0, green=0, needs_review=0, priced=None)
    wanted = version_number if version_number is not None else state.current_version
    version = await session.scalar(
        select(BudgetVersion).where(BudgetVersion.project_id == project_id, BudgetVersion.version == wanted)
    )
    if version is None and version_number is not None:
        raise NotFound(
            f"The project has no budget version {version_number}.",
            errors=[field_error("version", f"the latest version is {state.current_version or 'none'}")],
        )
    if version is None:
        return AuditReport(
            project_id=project_id,
            version=None,
            version_id=None,
            audited_at=None,
            summary=empty_summary,
            items=[],
            total=0,
            limit=limit_offset.limit,
            offset=limit_offset.offset,
        )
    final = AuditResult.expert_role == ORCHESTRATOR
    in_version = AuditResult.version_id == version.id
    summary_rows = (
        await session.execute(
            select(
                AuditResult.status,
                func.count(),
                func.count().filter(AuditResult.metadata_["needs_review"].as_boolean()),
                func.max(AuditResult.created_at),
                func.count().filter(AuditResult.resolved),
            )
            .where(in_version, final)
            .group_by(AuditResult.status)
        )
    ).all()
    counts = {row[0]: row[1] for row in summary_rows}
    resolved = {row[0]: row[4] for row in summary_rows}
    pricing = await _version_pricing(session, version.id)
    finding = pricing.finding
    summary = AuditSummary(
        positions=sum(counts.values()),
        red=counts.get("RED", 0) - resolved.get("RED", 0),
        amber=counts.get("AMBER", 0) - resolved.get("AMBER", 0),
        green=counts.get("GREEN", 0),
        resolved_red=resolved.get("RED", 0),
        resolved_amber=resolved.get("AMBER", 0),
        needs_review=sum(row[2] for row in summary_rows),
        priced=pricing.priced,
        findings=[msgspec.convert(msgspec.to_builtins(finding), IssueRead)] if finding is not None else [],
    )
    audited_at = max((row[3] for row in summary_rows), default=None)
    conditions = [in_version, final]
    if status:
        conditions.append(AuditResult.status == status)
    total = await session.scalar(select(func.count()).select_from(AuditResult).where(*conditions)) or 0
    page = (
        await session.execute(
            select(Position, AuditResult)
            .join(AuditResult, AuditResult.position_id == Position.id)
            .where(*conditions)
            .order_by(*BUDGET_ORDER)
            .limit(limit_offset.limit)
            .offset(limit_offset.offset)
        )
    ).all()
    position_ids = [position.id for position, _ in page]
    experts: dict[uuid.UUID, list[AuditResult]] = {}
    if position_ids:
        for row in await session.scalars(
            select(AuditResult).where(
                AuditResult.position_id.in_(position_ids), in_version, AuditResult.expert_role != ORCHESTRATOR
            )
        ):
            experts.setdefault(row.position_id, []).append(row)
    order = {role: index for index, role in enumerate(EXPERT_ORDER)}
    items = []
    for position, verdict in page:
        final_read = VerdictRead.from_model(verdict)
        items.append(
            PositionAuditRead(
                position_id=position.id,
                lineage_id=position.lineage_id,
                position_number=position.position_number,
                code=position.code,
                description=position.description,
                unit=position.unit,
                quantity=position.quantity,
                unit_price=position.unit_price,
                total_price=position.total_price,
                status=verdict.status,
                confidence=final_read.confidence,
                needs_review=final_read.needs_review,
                verdict=final_read,
                experts=[
                    VerdictRead.from_model(row)
                    for row in sorted(experts.get(position.id, []), key=lambda r: order.get(r.expert_role, len(order)))
                ],
            )
        )
    return AuditReport(
        project_id=project_id,
        version=version.version,
        version_id=version.id,
        audited_at=audited_at,
        summary=summary,
        items=items,
        total=total,
        limit=limit_offset.limit,
        offset=limit_offset.offset,
    )
