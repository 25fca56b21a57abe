"""Fixtures of the API tests (users, projects, an app with test settings): see tests/support/api.py."""

from tests.support.api import api_user, app, project  # noqa: F401
