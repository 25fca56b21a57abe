"""Per-day project analytics: the `project_analytics` materialized view for operators, a live query
over the caller's own projects for everyone else (the view is global and must not leak across users)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class DailyProjects(msgspec.Struct, kw_only=True):
    day: datetime.date
    projects_created: int
    projects_completed: int
    average_cost: Decimal | None


_OWN_PROJECTS_BY_DAY = text(
    """
    WITH own AS (SELECT created_at, completed_at, total_cost FROM projects WHERE user_id = :owner_id),
    days AS (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day FROM own
        UNION
        SELECT (completed_at AT TIME ZONE 'UTC')::date FROM own WHERE completed_at IS NOT NULL
    )
    SELECT d.day,
           count(*) FILTER (WHERE (o.created_at AT TIME ZONE 'UTC')::date = d.day) AS projects_created,
           count(*) FILTER (WHERE (o.completed_at AT TIME ZONE 'UTC')::date = d.day) AS projects_completed,
           round(avg(o.total_cost) FILTER (WHERE (o.created_at AT TIME ZONE 'UTC')::date = d.day), 2)
               AS average_cost
    FROM days d CROSS JOIN own o
    WHERE d.day BETWEEN :since AND :until
    GROUP BY d.day ORDER BY d.day
    """
)

_VIEW_BY_DAY = text(
    """SELECT date AS day, projects_created, projects_completed, average_cost FROM project_analytics
       WHERE date BETWEEN :since AND :until ORDER BY date"""
)


async def projects_by_day(
    session: AsyncSession, *, owner_id: uuid.UUID | None, since: datetime.date, until: datetime.date
) -> list[DailyProjects]:
    """`owner_id=None` reads the materialized view (all projects, as of its last refresh)."""
    if owner_id is None:
        rows = await session.execute(_VIEW_BY_DAY, {"since": since, "until": until})
    else:
        rows = await session.execute(_OWN_PROJECTS_BY_DAY, {"owner_id": owner_id, "since": since, "until": until})
    return [
        DailyProjects(
            day=r.day,
            projects_created=r.projects_created,
            projects_completed=r.projects_completed,
            average_cost=r.average_cost,
        )
        for r in rows
    ]


async def refresh_project_analytics(session: AsyncSession) -> None:
    """Refresh the view without blocking readers (its unique index on `day` allows CONCURRENTLY)."""
    await session.execute(text("REFRESH MATERIALIZED VIEW CONCURRENTLY project_analytics"))
    await session.commit()
