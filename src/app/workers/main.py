"""The worker process: SAQ workers for the high, default and low queues."""

from __future__ import annotations

from typing import Any

import uvloop

from app.config import Settings


def run_worker(settings: Settings) -> None:
    """Run the worker on uvloop, like the API (granian --loop uvloop): a job's many short database and
    Redis round trips (asyncpg, redis-py) each cost less of the loop's own time there."""
    from app.workers.runtime import serve

    uvloop.run(serve(settings))


__all__: list[Any] = ["run_worker"]
