"""GET /api/analytics/projects."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.accounts.sessions import SessionUser
from app.domain.analytics.services import DailyProjects, projects_by_day
from app.lib.errors import Forbidden, InvalidInput, field_error


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
        current_user: SessionUser,
        db_session: AsyncSession,
        since: Annotated[datetime.date | None, Parameter(description="first day (UTC), default 90 days ago")] = None,
        until: Annotated[datetime.date | None, Parameter(description="last day (UTC), default today")] = None,
        # `scope` is a name Litestar reserves for the ASGI scope, hence the alias.
        view: Annotated[
            Literal["own", "all"], Parameter(query="scope", description="all: every project (administrators)")
        ] = "own",
    ) -> ProjectAnalytics:
        """Per day: projects created, completed and their average cost."""
        today = datetime.datetime.now(datetime.UTC).date()
        until = until or today
        since = since or until - datetime.timedelta(days=90)
        if since > until:
            raise InvalidInput("since is after until", errors=[field_error("since", "must not be after until")])
        if view == "all" and not current_user.is_admin:
            # Said, not quietly narrowed to "own": the caller would read their own figures as everyone's.
            raise Forbidden(
                "scope=all (every project) is for administrators.",
                errors=[field_error("scope", "all is for administrators; use own")],
            )
        everything = view == "all"
        owner_id = None if everything else current_user.id
        items = await projects_by_day(db_session, owner_id=owner_id, since=since, until=until)
        return ProjectAnalytics(scope="all" if everything else "own", since=since, until=until, items=items)
