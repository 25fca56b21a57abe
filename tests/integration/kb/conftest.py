"""Fixtures of the knowledge-base tests: API users and app (tests/support/api.py), the job harness."""

from tests.support.api import api_user, app, other_user  # noqa: F401
from tests.support.job_runs import harness  # noqa: F401
