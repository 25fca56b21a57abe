"""Fixtures of the chat tests: users, projects and an app (tests/support/api.py), the job harness."""

from tests.support.api import admin_user, api_user, app, other_user, project  # noqa: F401
from tests.support.job_runs import harness  # noqa: F401
