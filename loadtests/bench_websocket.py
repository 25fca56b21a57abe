"""Benchmark of live events: publish-to-receive latency with 100 connected sockets.

Not a test. Starts a real API process (granian, like production) on a database and a Redis db number
of its own (created and dropped here, on the servers of DATABASE_URL / REDIS_URL or the embedded
ones), connects SOCKETS WebSockets that all join one project, publishes EVENTS events through the
same publisher the API and the workers use (Redis INCR+PUBLISH, then Litestar channels fan-out), and
measures, per event and socket, the time from just before `publish` to the client having the decoded
event. Prints JSON and writes ``loadtests/reports/websocket.json``. Spec: p95 < 50 ms; aim < 10 ms.

Run from the repository root: ``.venv/bin/python loadtests/bench_websocket.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

SOCKETS = int(os.environ.get("BENCH_SOCKETS", "100"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "200"))
EVENT_INTERVAL_SECONDS = float(os.environ.get("BENCH_INTERVAL", "0.02"))  # 50 events/s to every socket
REPORT = Path(__file__).parent / "reports" / "websocket.json"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run(settings: Any, logs: Path) -> dict[str, Any]:
    from redis.asyncio import Redis
    from websockets.asyncio.client import ClientConnection, connect

    from app.lib.events import project_channel
    from app.lib.redis_events import RedisEventPublisher
    from tests.support.live import (
        create_live_user,
        create_project_with_budget,
        live_env,
        start_api,
        wait_until_ready,
    )

    owner = await create_live_user(settings)
    project_id = await create_project_with_budget(settings, owner, versions=1, positions_per_version=1)
    api = start_api(live_env(settings, LOG_LEVEL="WARNING", WEBSOCKET_BACKLOG="1000"), logs, name="bench-api")
    redis = Redis.from_url(settings.redis_url)
    publisher = RedisEventPublisher(redis, settings.REDIS_NAMESPACE)
    sockets: list[ClientConnection] = []
    latencies: list[float] = []
    received = [0] * SOCKETS
    try:
        await wait_until_ready(api)

        async def open_socket() -> ClientConnection:
            socket = await connect(f"{api.ws_url}?token={owner.token}", ping_interval=None, compression=None)
            await socket.recv()  # subscribed to the user channel
            await socket.send(json.dumps({"action": "join_project", "project_id": str(project_id)}))
            while json.loads(await socket.recv())["type"] != "subscribed":
                pass
            return socket

        sockets = list(await asyncio.gather(*(open_socket() for _ in range(SOCKETS))))

        async def read(index: int, socket: ClientConnection) -> None:
            while received[index] < EVENTS:
                event = json.loads(await socket.recv())
                if event["type"] == "position_updated":
                    latencies.append(time.perf_counter() - event["data"]["sent"])
                    received[index] += 1

        readers = [asyncio.create_task(read(i, s)) for i, s in enumerate(sockets)]
        channel = project_channel(project_id)
        started = time.perf_counter()
        for n in range(EVENTS):
            await publisher.publish(channel, "position_updated", {"n": n, "sent": time.perf_counter()})
            await asyncio.sleep(EVENT_INTERVAL_SECONDS)
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        await redis.aclose()
        api.process.stop()

    ms = [value * 1000 for value in latencies]
    return {
        "benchmark": "WebSocket publish-to-receive latency (granian API process, Redis pub/sub, Litestar channels)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "sockets": SOCKETS,
        "events": EVENTS,
        "deliveries": len(ms),
        "lost": SOCKETS * EVENTS - len(ms),
        "publish_rate_per_second": round(1 / EVENT_INTERVAL_SECONDS),
        "seconds": round(elapsed, 2),
        "latency_ms": {
            "p50": round(percentile(ms, 0.50), 2),
            "p95": round(percentile(ms, 0.95), 2),
            "p99": round(percentile(ms, 0.99), 2),
            "max": round(max(ms), 2),
            "mean": round(statistics.fmean(ms), 2),
        },
        "spec_p95_ms": 50,
        "target_p95_ms": 10,
        "note": "client and publisher share one process and event loop: the numbers include client-side decoding",
    }


def main() -> None:
    from tests.support.servers import run_on_isolated_servers, write_report

    write_report(run_on_isolated_servers(run), REPORT)


if __name__ == "__main__":
    main()
