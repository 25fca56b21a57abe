"""Resolving audit findings: an estimator accepts, fixes or disputes a finding, or reopens it.

A resolution belongs to a position lineage and an expert (`finding_resolutions`) and records who,
when and how (`accepted_as_is`, `fixed`, `disputed`, with an optional note). It applies to every
verdict of that lineage and expert whose position still has the content it had when resolved
(`budgets.summary.JUDGED_COLUMNS`): a re-audit of an unchanged position keeps it, a changed position is
judged again with the finding open. `audit_results.resolved` mirrors this on each verdict row
(`sync_resolved_flags`, run by every resolution and every audit); the project's counts and the
version's summary count open findings, with the resolved ones beside them.

PUBLIC:
    await resolve_finding(session, actor, project_id, finding_id, resolution, note) -> FindingRead
    await reopen_finding(session, actor, project_id, finding_id) -> FindingRead
    await sync_resolved_flags(session, project_id, version_id)    # inside the audit's transaction
    await has_resolutions(session, project_id)                    # whether there is anything to sync
Both commit; after the commit the project's cached state is dropped and `finding_resolved` /
`finding_reopened` goes out (the unit of work, app.lib.unit_of_work).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import msgspec
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditResult, BudgetVersion, FindingResolution, Position, Project, utc_now
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.summary import summarise_version, unchanged_sql
from app.domain.projects.services import lock_project
from app.lib.errors import NotFound
from app.lib.events import project_channel
from app.lib.unit_of_work import LiveEvent, record

_SYNC = f"""
    UPDATE audit_results AS a SET resolved = m.resolved
    FROM (
        SELECT a2.id, (r.id IS NOT NULL AND {unchanged_sql("p", "rp")}) AS resolved
        FROM audit_results a2
        JOIN positions p ON p.id = a2.position_id
        LEFT JOIN finding_resolutions r
            ON r.project_id = a2.project_id AND r.lineage_id = p.lineage_id AND r.expert_role = a2.expert_role
        LEFT JOIN positions rp ON rp.id = r.position_id
        WHERE a2.project_id = :project_id {{scope}}
    ) AS m
    WHERE a.id = m.id AND a.resolved IS DISTINCT FROM m.resolved
"""
_SYNC_VERSION = text(_SYNC.format(scope="AND a2.version_id = :version_id"))
_SYNC_LINEAGE = text(_SYNC.format(scope="AND p.lineage_id = :lineage_id AND a2.expert_role = :expert_role"))


class FindingResolve(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How an estimator settles a finding: accepted as is, fixed (elsewhere) or disputed, with a note."""

    resolution: Literal["accepted_as_is", "fixed", "disputed"]
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class ResolutionRead(msgspec.Struct, kw_only=True):
    resolution: str
    note: str | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime.datetime


class FindingRead(msgspec.Struct, kw_only=True):
    """A finding after a resolution or a reopening, with the project's counts after it."""

    id: uuid.UUID
    project_id: uuid.UUID
    position_id: uuid.UUID
    lineage_id: uuid.UUID
    expert_role: str
    status: str
    resolved: bool
    resolution: ResolutionRead | None
    issues_count_red: int
    issues_count_amber: int
    issues_resolved_red: int
    issues_resolved_amber: int


def finding_not_found() -> NotFound:
    return NotFound("The finding does not exist.")


async def has_resolutions(session: AsyncSession, project_id: uuid.UUID) -> bool:
    """Whether any finding of the project was ever resolved (and not reopened)."""
    found = await session.scalar(
        select(FindingResolution.id).where(FindingResolution.project_id == project_id).limit(1)
    )
    return found is not None


async def sync_resolved_flags(session: AsyncSession, project_id: uuid.UUID, version_id: uuid.UUID) -> None:
    """Set `audit_results.resolved` on one version's verdicts from the resolutions (after an audit)."""
    await session.execute(_SYNC_VERSION, {"project_id": project_id, "version_id": version_id})


async def _finding(
    session: AsyncSession, actor: SessionUser, project_id: uuid.UUID, finding_id: uuid.UUID
) -> tuple[Project, AuditResult, Position]:
    """The project (locked: counts change) and the finding with its position; 404 when not visible."""
    project = await lock_project(session, actor, project_id)
    found = (
        await session.execute(
            select(AuditResult, Position)
            .join(Position, Position.id == AuditResult.position_id)
            .where(AuditResult.id == finding_id, AuditResult.project_id == project.id)
        )
    ).one_or_none()
    if found is None:
        raise finding_not_found()
    return project, found[0], found[1]


async def _after_change(
    session: AsyncSession,
    actor: SessionUser,
    project: Project,
    finding: AuditResult,
    position: Position,
) -> FindingRead:
    """Mirror the resolution on the lineage's verdicts, recount the latest version, commit, announce."""
    await session.execute(
        _SYNC_LINEAGE,
        {"project_id": project.id, "lineage_id": position.lineage_id, "expert_role": finding.expert_role},
    )
    latest = await session.scalar(
        select(BudgetVersion).where(
            BudgetVersion.project_id == project.id, BudgetVersion.version == project.current_version
        )
    )
    if latest is not None:
        totals = await summarise_version(session, latest)
        totals.apply_to(project)
    await session.flush()
    await session.refresh(finding, ["resolved"])
    stored = await session.scalar(
        select(FindingResolution).where(
            FindingResolution.project_id == project.id,
            FindingResolution.lineage_id == position.lineage_id,
            FindingResolution.expert_role == finding.expert_role,
        )
    )
    read = FindingRead(
        id=finding.id,
        project_id=project.id,
        position_id=position.id,
        lineage_id=position.lineage_id,
        expert_role=finding.expert_role,
        status=finding.status,
        resolved=finding.resolved,
        resolution=None
        if stored is None
        else ResolutionRead(
            resolution=stored.resolution,
            note=stored.note,
            resolved_by=stored.resolved_by,
            resolved_at=stored.resolved_at,
        ),
        issues_count_red=project.issues_count_red,
        issues_count_amber=project.issues_count_amber,
        issues_resolved_red=project.issues_resolved_red,
        issues_resolved_amber=project.issues_resolved_amber,
    )
    record(session, finding_announcement(read, actor))
    await session.commit()
    return read


async def resolve_finding(
    session: AsyncSession,
    actor: SessionUser,
    project_id: uuid.UUID,
    finding_id: uuid.UUID,
    resolution: str,
    note: str | None,
) -> FindingRead:
    """Resolve (or re-resolve) a finding as its position stands now."""
    project, finding, position = await _finding(session, actor, project_id, finding_id)
    values = {
        "position_id": position.id,
        "audit_result_id": finding.id,
        "resolution": resolution,
        "note": note,
        "resolved_by": actor.id,
        "resolved_at": utc_now(),
    }
    await session.execute(
        insert(FindingResolution)
        .values(project_id=project.id, lineage_id=position.lineage_id, expert_role=finding.expert_role, **values)
        .on_conflict_do_update(index_elements=["project_id", "lineage_id", "expert_role"], set_=values)
    )
    return await _after_change(session, actor, project, finding, position)


async def reopen_finding(
    session: AsyncSession,
    actor: SessionUser,
    project_id: uuid.UUID,
    finding_id: uuid.UUID,
) -> FindingRead:
    """Reopen a finding: its lineage and expert have no resolution any more (404 when not visible)."""
    project, finding, position = await _finding(session, actor, project_id, finding_id)
    await session.execute(
        delete(FindingResolution).where(
            FindingResolution.project_id == project.id,
            FindingResolution.lineage_id == position.lineage_id,
            FindingResolution.expert_role == finding.expert_role,
        )
    )
    return await _after_change(session, actor, project, finding, position)


def finding_announcement(finding: FindingRead, actor: SessionUser) -> LiveEvent:
    """`finding_resolved` / `finding_reopened` for the project channel (published after the commit)."""
    return LiveEvent(
        project_channel(finding.project_id),
        "finding_resolved" if finding.resolved else "finding_reopened",
        {
            **msgspec.to_builtins(finding),
            "by": str(actor.id),
        },
    )
