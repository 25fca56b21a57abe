"""The `recalculate` job: recompute a project's version totals and cached aggregates from its positions.

Pure recomputation, so running it twice leaves the same result as once. Each budget version gets
`total_positions`, `total_cost` (sum of position totals) and `delta_cost` (against the version
before); the project gets `current_version`, `total_positions`, `total_cost` and
`issues_count_{red,amber,green}` from its latest version.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.db.models import BackgroundJob, BudgetVersion, Position
from app.domain.budgets.queries import in_version
from app.domain.jobs.context import JobContext, PermanentJobError
from app.domain.jobs.progress import ProgressReporter
from app.domain.projects.services import lock_project
from app.lib.errors import NotFound
from app.lib.events import project_channel
from app.lib.unit_of_work import LiveEvent, record

ZERO = Decimal("0.00")


async def recalculate_project(ctx: JobContext, job: BackgroundJob, progress: ProgressReporter) -> dict[str, Any]:
    if job.project_id is None:
        raise PermanentJobError("recalculate needs a project")
    session = ctx.session
    try:
        project = await lock_project(session, None, job.project_id)  # serialises with budget edits
    except NotFound as exc:
        raise PermanentJobError("the project no longer exists") from exc

    await progress(0.05, "Reading positions", current_step="read_positions", total_steps=3)
    per_version = {
        version_id: (count, total or ZERO)
        for version_id, count, total in (
            await session.execute(
                select(BudgetVersion.id, func.count(), func.sum(Position.total_price))
                .join(Position, in_version(BudgetVersion))
                .where(BudgetVersion.project_id == project.id)
                .group_by(BudgetVersion.id)
            )
        ).all()
    }
    versions = list(
        await session.scalars(
            select(BudgetVersion).where(BudgetVersion.project_id == project.id).order_by(BudgetVersion.version)
        )
    )

    previous_total = ZERO
    for index, version in enumerate(versions, start=1):
        count, total = per_version.get(version.id, (0, ZERO))
        version.total_positions = count
        version.total_cost = total
        version.delta_cost = total - previous_total
        previous_total = total
        await progress(
            0.1 + 0.7 * index / len(versions),
            f"Version {version.version}: {count} positions",
            current_step="version_totals",
        )

    await progress(0.85, "Project aggregates", current_step="project_aggregates")
    latest = versions[-1] if versions else None
    issues = {"RED": 0, "AMBER": 0, "GREEN": 0}
    if latest is not None:
        for status, count in (
            await session.execute(
                select(Position.status, func.count())
                .where(in_version(latest), Position.status.is_not(None))
                .group_by(Position.status)
            )
        ).all():
            if status in issues:
                issues[status] = count
    project.current_version = latest.version if latest else 0
    project.total_positions = latest.total_positions if latest else 0
    project.total_cost = latest.total_cost if latest else ZERO
    project.issues_count_red = issues["RED"]
    project.issues_count_amber = issues["AMBER"]
    project.issues_count_green = issues["GREEN"]
    await session.flush()

    summary: dict[str, Any] = {
        "versions": len(versions),
        "current_version": project.current_version,
        "total_positions": project.total_positions,
        "total_cost": str(project.total_cost),
        "issues": {"red": issues["RED"], "amber": issues["AMBER"], "green": issues["GREEN"]},
    }
    record(
        session,
        LiveEvent(
            project_channel(project.id),
            "budget_recalculated",
            {"project_id": str(project.id), "job_id": str(job.id), **summary},
        ),
    )
    await progress(1.0, "Recalculated", current_step="done")
    return summary
