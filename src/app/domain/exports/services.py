"""Reading a budget version and its audit for export: two queries, however large the budget.

The audit status is the position's own `status`. The reasons are the orchestrator's reasoning and
the issues every expert raised, taken from this version's audit of the position; when the version
was not audited, from the latest audit of the same row (another version sharing it unchanged), else
from the latest audit of its lineage.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import and_, case, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.config import Settings
from app.db.models import AuditResult, BackgroundJob, BudgetVersion, Position, Project, utc_now
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.queries import in_version, load_version
from app.domain.exports.schemas import ExportRequest
from app.domain.exports.sheets import ExportBudget, ExportLine, ExportObject
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.services import start_project_job, visible_project

_SEVERITY_ORDER = {"RED": 0, "AMBER": 1, "GREEN": 2}
MAX_REASON_CHARACTERS = 4000  # an Excel cell holds 32767; a person reads far fewer


async def start_export(
    session: AsyncSession,
    actor: SessionUser,
    project_id: uuid.UUID,
    request: ExportRequest,
    *,
    settings: Settings | None = None,
    queues: JobQueues | None = None,
) -> BackgroundJob:
    """Queue an `export` job (POST /export and the assistant's "exportuj"); a version the project does
    not have is the caller's 404 now, not a failed job later."""
    project = await visible_project(session, actor, project_id)
    await load_version(session, project, request.version)
    return await start_project_job(
        session,
        actor,
        project_id,
        job_type="export",
        payload=msgspec.to_builtins(request),
        settings=settings,
        queues=queues,
    )


def _position_order(position: Position) -> tuple[Any, ...]:
    number = position.position_number or ""
    natural = (0, int(number), "") if number.isdigit() else (1, 0, number)
    return (position.source_line is None, position.source_line or 0, natural, position.created_at, position.lineage_id)


async def _audit_rows(session: AsyncSession, version: BudgetVersion) -> dict[uuid.UUID, list[AuditResult]]:
    """Audit rows per position of `version`: its own audit's; else the latest audit of the very row (shared
    with the version that audited it); else the latest audit of its lineage.

    One source is one audit of one row: (row, audited version); a row shared by versions has one per
    audited version. PostgreSQL picks each position's source (DISTINCT ON), so only the rows of the
    chosen sources are loaded, not those of every audit in the project's history."""
    audited = aliased(Position)
    current = aliased(Position)
    own_audit = and_(AuditResult.position_id == current.id, AuditResult.version_id == version.id)
    chosen = (
        select(
            current.id.label("position_id"),
            AuditResult.position_id.label("audited_id"),
            AuditResult.version_id.label("audited_version_id"),
        )
        .select_from(AuditResult)
        .join(audited, audited.id == AuditResult.position_id)
        .join(current, and_(current.lineage_id == audited.lineage_id, in_version(version, current)))
        .where(AuditResult.project_id == version.project_id)
        .distinct(current.id)
        .order_by(
            current.id,
            case((own_audit, 0), else_=1),
            case((AuditResult.position_id == current.id, 0), else_=1),
            AuditResult.created_at.desc(),
        )
        .subquery()
    )
    statement = (
        select(chosen.c.position_id, AuditResult)
        .join(
            AuditResult,
            and_(
                AuditResult.position_id == chosen.c.audited_id,
                AuditResult.version_id.is_not_distinct_from(chosen.c.audited_version_id),
            ),
        )
        .where(AuditResult.project_id == version.project_id)
        .order_by(AuditResult.created_at.desc())
    )
    rows: dict[uuid.UUID, list[AuditResult]] = defaultdict(list)
    for position_id, result in (await session.execute(statement)).all():
        rows[position_id].append(result)
    return rows


def reasons_text(results: list[AuditResult]) -> str:
    """The orchestrator's reasoning, then each distinct issue (worst first) with its suggestion."""
    parts: list[str] = []
    orchestrator = next((r for r in results if r.expert_role == "orchestrator"), None)
    if orchestrator is not None and orchestrator.reasoning:
        parts.append(orchestrator.reasoning.strip())
    seen: set[str] = set()
    issues: list[tuple[int, str]] = []
    for result in results:
        for issue in result.issues or []:
            if not isinstance(issue, dict):
                continue
            description = str(issue.get("description") or issue.get("type") or "").strip()
            if not description or description in seen:
                continue
            seen.add(description)
            severity = str(issue.get("severity") or "").upper()
            line = f"[{severity}] {description}" if severity else description
            if issue.get("suggestion"):
                line += f" → {issue['suggestion']}"
            issues.append((_SEVERITY_ORDER.get(severity, 3), line))
    parts.extend(line for _, line in sorted(issues, key=lambda pair: pair[0]))
    text = "\n".join(parts)
    return text if len(text) <= MAX_REASON_CHARACTERS else text[: MAX_REASON_CHARACTERS - 1] + "…"


async def load_export(
    session: AsyncSession, project: Project, version_number: int | None, *, now: datetime.datetime | None = None
) -> ExportBudget:
    version = await load_version(session, project, version_number)
    positions = sorted((await session.scalars(select(Position).where(in_version(version)))).all(), key=_position_order)
    audits = await _audit_rows(session, version)
    objects: dict[tuple[str | None, str | None], ExportObject] = {}
    for position in positions:
        metadata = position.metadata_ or {}
        key = (metadata.get("object_code"), metadata.get("object_name"))
        obj = objects.get(key)
        if obj is None:
            obj = objects[key] = ExportObject(code=key[0], name=key[1])
        results = audits.get(position.id, [])
        own_audit = any(result.position_id == position.id for result in results)
        status = position.status
        if status is None and own_audit:
            status = next((r.status for r in results if r.expert_role == "orchestrator"), None)
        reasons = reasons_text(results) if (own_audit or position.status is not None) else ""
        obj.lines.append(
            ExportLine(
                position_number=position.position_number,
                code=position.code,
                description=position.description,
                unit=position.unit,
                quantity=position.quantity,
                unit_price=position.unit_price,
                total_price=position.total_price,
                status=status,
                reasons=reasons,
            )
        )
    return ExportBudget(
        project_name=project.name,
        version=version.version,
        version_total=Decimal(version.total_cost),
        trigger_type=version.trigger_type,
        version_created_at=version.created_at,
        exported_at=now or utc_now(),
        objects=sorted(objects.values(), key=_object_order),
    )


def _object_order(obj: ExportObject) -> tuple[Any, ...]:
    """SO 01.1, SO 01.2, SO 02, SO 101 … (numbers compared as numbers); positions without an object last."""
    if not obj.code and not obj.name:
        return (1, ())
    parts = re.split(r"(\d+)", obj.code or obj.name or "")
    return (0, tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold()) for part in parts))
