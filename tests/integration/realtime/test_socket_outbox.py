"""A socket's bounded backlog drops old progress first and never a final event."""

from __future__ import annotations

import json

from app.domain.realtime.channels import SocketOutbox
from app.lib.redis_events import encode_envelope


def event(event_type: str, n: int) -> bytes:
    return encode_envelope("channel:user:x", event_type, {"n": n})


async def drain(outbox: SocketOutbox) -> list[tuple[str, int]]:
    kept = []
    while (item := await outbox.next(timeout=0.01)) is not None:
        decoded = json.loads(item)
        kept.append((decoded["type"], decoded["data"]["n"]))
    return kept


async def test_a_full_backlog_drops_the_oldest_progress_first_then_other_non_final_events() -> None:
    outbox = SocketOutbox(limit=3)
    for item in (event("progress", 1), event("position_updated", 2), event("progress", 3)):
        assert outbox.push(item)
    assert outbox.push(event("progress", 4))  # drops progress 1
    assert outbox.push(event("job_complete", 5))  # drops progress 3
    assert outbox.push(event("chat_message", 6))  # drops progress 4
    assert not outbox.push(event("progress", 7))  # nothing older to give way: the new progress goes
    assert outbox.push(event("chat_message", 8))  # drops position_updated 2, never the final event
    assert await drain(outbox) == [("job_complete", 5), ("chat_message", 6), ("chat_message", 8)]
    assert outbox.dropped == 5


async def test_final_events_are_never_dropped_but_a_hopeless_socket_overflows() -> None:
    outbox = SocketOutbox(limit=2)
    for n in range(4):
        assert outbox.push(event("job_failed", n))  # may exceed the limit, up to twice
    assert len(outbox) == 4 and not outbox.overflowed
    assert not outbox.push(event("job_complete", 9))
    assert outbox.overflowed
