"""The worker process: SAQ workers for the high, default and low queues."""

from __future__ import annotations

import asyncio
from typing import Any

from app.config import Settings


def run_worker(settings: Settings) -> None:
    from app.workers.runtime import serve

    asyncio.run(serve(settings))


__all__: list[Any] = ["run_worker"]
