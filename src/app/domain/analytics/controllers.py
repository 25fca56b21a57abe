"""GET /api/analytics/projects."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.analytics.services import DailyProjects, projects_by_day
from app.lib.errors import InvalidInput, field_error


class ProjectAnalytics(msgspec.Struct, kw_only=True):
    scope: str  # "own" or "all" (administrators, from the materialized view)
    since: datetime.date
    until: datetime.date
    items: list[DailyProjects]


class AnalyticsController(Controller):
    path = "/api/analytics"
    tags = ["analytics"]

    @get("/projects")
    async def project_analytics(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        since: datetime.date | None = Parameter(default=None, description="first day (UTC), default 90 days ago"),
        until: datetime.date | None = Parameter(default=None, description="last day (UTC), default today"),
        scope: str = Parameter(default="own", description="own | all (administrators)"),
    ) -> ProjectAnalytics:
        """Per day: projects created, completed and their average cost."""
        today = datetime.datetime.now(datetime.UTC).date()
        until = until or today
        since = since or until - datetime.timedelta(days=90)
        if since > until:
            raise InvalidInput("since is after until", errors=[field_error("since", "must not be after until")])
        if scope not in ("own", "all"):
            raise InvalidInput("unknown scope", errors=[field_error("scope", "must be own or all")])
        user = request.user
        everything = scope == "all" and getattr(user, "is_admin", False)
        items = await projects_by_day(db_session, owner_id=None if everything else user.id, since=since, until=until)
        return ProjectAnalytics(scope="all" if everything else "own", since=since, until=until, items=items)
