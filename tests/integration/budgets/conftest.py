"""Fixtures of the API tests (users, projects, an app with test settings): see tests/support/api.py;
the job harness (tests/support/job_runs.py) for tests that act as jobs do."""

from tests.support.api import admin_user, api_user, app, other_user, project  # noqa: F401
from tests.support.job_runs import harness  # noqa: F401
