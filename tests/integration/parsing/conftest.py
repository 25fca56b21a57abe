"""Fixtures of the parse-service tests: job handlers run in this process on the test servers."""

from tests.support.job_runs import harness  # noqa: F401
