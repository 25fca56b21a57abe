"""The application factory: assembly only, the rules live in the domains."""

from __future__ import annotations

from litestar import Litestar


def create_app() -> Litestar:
    from app.server import build_app

    return build_app()
