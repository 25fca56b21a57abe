"""Fixtures of the API tests (users, an app with test settings): see tests/support/api.py."""

from tests.support.api import admin_user, api_user, app, other_user, project  # noqa: F401
