"""Fixtures of the export tests: job handlers run in this process on the test servers; API users and app."""

from tests.support.api import api_user, app, project  # noqa: F401
from tests.support.job_runs import harness  # noqa: F401
