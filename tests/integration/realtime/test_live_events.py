"""Live events over /ws with real processes: a job started on API A is seen on a socket of API B."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid

import httpx
import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.lib.events import project_channel, user_channel
from app.lib.redis_events import RedisEventPublisher
from tests.support.live import LiveApi, LiveProcess, LiveUser, create_project_with_budget, submit_test_job
from tests.support.sockets import EventSocket

Cluster = tuple[LiveApi, LiveApi, LiveProcess]


async def test_job_events_reach_a_socket_on_another_api_process(
    live_cluster: Cluster, live_settings: Settings, owner: LiveUser
) -> None:
    api_a, api_b, _ = live_cluster
    project_id = await create_project_with_budget(live_settings, owner, versions=3, positions_per_version=5)
    socket = await EventSocket.open(api_b.ws_url, owner.token)
    try:
        await socket.subscribed(user_channel(owner.id))
        assert (await socket.join(project_id))["type"] == "subscribed"
        async with httpx.AsyncClient(base_url=api_b.url) as client:
            metrics = (await client.get("/metrics")).text
        assert "concrete_agent_websocket_connections 1.0" in metrics

        async with httpx.AsyncClient(base_url=api_a.url) as client:
            started = await client.post(f"/api/projects/{project_id}/recalculate", headers=owner.headers)
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]

        channels = {project_channel(project_id), user_channel(owner.id)}
        done: set[str] = set()
        while done != channels:
            event = await socket.wait_for(
                lambda e: e["type"] == "job_complete" and e["data"]["job_id"] == job_id, what="job_complete"
            )
            done.add(event["channel"])
        await socket.barrier()
    finally:
        await socket.close()

    published = [e for e in socket.events if "seq" in e]
    assert all(set(e) == {"type", "data", "timestamp", "channel", "seq"} for e in published)
    for channel in channels:
        seqs = [e["seq"] for e in published if e["channel"] == channel]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # nothing missed, in order
    progress = [e["data"] for e in published if e["type"] == "progress" and e["channel"] == project_channel(project_id)]
    assert progress, [e["type"] for e in published]
    assert all(
        set(p) >= {"job_id", "project_id", "progress", "message", "current_step", "eta_seconds"} for p in progress
    )
    assert all(0.0 <= p["progress"] <= 1.0 for p in progress) and progress[-1]["progress"] == 1.0
    complete = next(e for e in published if e["type"] == "job_complete")
    assert complete["data"]["result"]["total_positions"] == 7
    assert any(e["type"] == "budget_recalculated" for e in published)


async def test_the_assistants_answer_reaches_a_socket_on_another_api_process(
    live_cluster: Cluster, owner: LiveUser
) -> None:
    """Chat is sent over REST; the question, the answer and the version a command made arrive on the socket."""
    api_a, api_b, _ = live_cluster
    async with httpx.AsyncClient(base_url=api_a.url, headers=owner.headers) as client:
        project = (await client.post("/api/projects", json={"name": "Chat", "workflow": "workflow_a"})).json()
        added = await client.post(
            f"/api/projects/{project['id']}/positions",
            json={"code": "273321311", "description": "Základy z betonu C30/37", "unit": "m3", "quantity": "20"},
        )
        assert added.status_code == 201, added.text
    socket = await EventSocket.open(api_b.ws_url, owner.token)
    try:
        await socket.subscribed(user_channel(owner.id))
        assert (await socket.join(project["id"]))["type"] == "subscribed"
        async with httpx.AsyncClient(base_url=api_a.url, headers=owner.headers) as client:
            posted = await client.post(
                f"/api/projects/{project['id']}/chat", json={"message": "Změň množství 273321311 na 25"}
            )
        assert posted.status_code == 201, posted.text
        answer = posted.json()["assistant"]
        event = await socket.wait_for(
            lambda e: e["type"] == "chat_message" and e["data"]["role"] == "assistant", what="the answer"
        )
    finally:
        await socket.close()
    assert event["data"]["id"] == answer["id"] and event["data"]["question_id"] == posted.json()["message"]["id"]
    assert event["data"]["actions"][0]["result"] == answer["actions"][0]["result"]
    assert answer["actions"][0]["result"]["version"] == 2
    assert event["data"]["positions"][0]["code"] == "273321311"
    questions = [e for e in socket.events if e["type"] == "chat_message" and e["data"]["role"] == "user"]
    assert [q["data"]["message"] for q in questions] == ["Změň množství 273321311 na 25"]
    # the command's version was announced before the answer
    assert any(e["type"] == "budget_recalculated" and e["data"]["version"] == 2 for e in socket.events)


@pytest.mark.parametrize("token", [None, "not-a-session"])
async def test_a_socket_without_a_valid_session_is_closed_with_1008(live_cluster: Cluster, token: str | None) -> None:
    _, api_b, _ = live_cluster
    socket = await EventSocket.open(api_b.ws_url, token)
    with pytest.raises(ConnectionClosed) as closed:
        await socket.next_event(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_user_can_neither_join_nor_hear_another_users_project(
    live_cluster: Cluster, live_settings: Settings, owner: LiveUser, stranger: LiveUser
) -> None:
    api_a, api_b, _ = live_cluster
    project_id = await create_project_with_budget(live_settings, owner, versions=1)
    owner_socket = await EventSocket.open(api_b.ws_url, owner.token)
    stranger_socket = await EventSocket.open(api_a.ws_url, stranger.token)
    try:
        await owner_socket.subscribed(user_channel(owner.id))
        await stranger_socket.subscribed(user_channel(stranger.id))
        answer = await stranger_socket.join(project_id)
        assert answer["type"] == "error" and "seq" not in answer
        assert (await owner_socket.join(project_id))["type"] == "subscribed"

        async with httpx.AsyncClient(base_url=api_a.url) as client:
            job_id = (await client.post(f"/api/projects/{project_id}/recalculate", headers=owner.headers)).json()[
                "job_id"
            ]
            assert (await client.get(f"/api/jobs/{job_id}", headers=stranger.headers)).status_code == 404
        await owner_socket.wait_for(
            lambda e: e["type"] == "job_complete" and e["channel"].startswith("channel:project")
        )
        heard = await stranger_socket.barrier()
        assert heard == [], heard
    finally:
        await owner_socket.close()
        await stranger_socket.close()


async def test_ping_pong_and_leaving_a_project(live_cluster: Cluster, live_settings: Settings, owner: LiveUser) -> None:
    _, api_b, _ = live_cluster
    project_id = await create_project_with_budget(live_settings, owner, versions=1)
    publisher_redis = Redis.from_url(live_settings.redis_url)
    events = RedisEventPublisher(publisher_redis, live_settings.REDIS_NAMESPACE)
    socket = await EventSocket.open(api_b.ws_url, owner.token)
    try:
        await socket.subscribed(user_channel(owner.id))
        await socket.send({"action": "ping"})
        pong = await socket.wait_for(lambda e: e["type"] == "pong")
        assert set(pong) == {"type", "data", "timestamp"}
        await socket.join(project_id)
        await events.publish(project_channel(project_id), "position_updated", {"n": 1})
        assert (await socket.wait_for(lambda e: e["type"] == "position_updated"))["data"] == {"n": 1}
        await socket.send({"action": "leave_project", "project_id": str(project_id)})
        await socket.wait_for(lambda e: e["type"] == "unsubscribed")
        await events.publish(project_channel(project_id), "position_updated", {"n": 2})
        await events.publish(user_channel(owner.id), "notification", {"n": 3})
        assert (await socket.wait_for(lambda e: e["type"] == "notification"))["data"] == {"n": 3}
        assert [e["data"] for e in socket.events if e["type"] == "position_updated"] == [{"n": 1}]
        await socket.send({"action": "dance"})
        assert (await socket.wait_for(lambda e: e["type"] == "error"))["data"]["action"] == "dance"
    finally:
        await socket.close()
        await publisher_redis.aclose()


async def test_a_client_that_stops_reading_does_not_slow_another(
    live_cluster: Cluster, live_settings: Settings, owner: LiveUser
) -> None:
    """Same user, two sockets on API B: one reads, one does not. The reader gets every event quickly;
    the stalled one keeps a bounded backlog: it lost progress events but not the final event."""
    _, api_b, _ = live_cluster
    fast = await EventSocket.open(api_b.ws_url, owner.token)
    slow = await EventSocket.open(api_b.ws_url, owner.token, max_queue=1)
    publisher_redis = Redis.from_url(live_settings.redis_url)
    events = RedisEventPublisher(publisher_redis, live_settings.REDIS_NAMESPACE)
    channel = user_channel(owner.id)
    job_id = str(uuid.uuid4())
    latencies: list[float] = []

    async def read_fast() -> None:
        while True:
            event = await fast.next_event(timeout=20)
            if event["type"] == "progress":
                latencies.append(time.time() - event["data"]["sent_at"])
            if event["type"] == "job_complete":
                return

    try:
        await fast.subscribed(channel)
        await slow.subscribed(channel)
        reader = asyncio.create_task(read_fast())
        filler = "x" * 8000  # big events fill the stalled socket's buffers quickly
        count = 1500
        for index in range(count):
            data = {"job_id": job_id, "progress": index / count, "message": filler, "sent_at": time.time()}
            await events.publish(channel, "progress", data)
            if index % 20 == 19:
                await asyncio.sleep(0.02)  # ~1,000 events/s: a hundred busy jobs at full throttle
        await events.publish(channel, "job_complete", {"job_id": job_id, "status": "completed"})
        await asyncio.wait_for(reader, 20)

        progress_seen = [e for e in fast.events if e["type"] == "progress" and e["data"]["job_id"] == job_id]
        assert len(progress_seen) == count  # nothing dropped for the reader
        seqs = [e["seq"] for e in fast.events if "seq" in e]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        latencies.sort()
        assert latencies[int(len(latencies) * 0.95)] < 0.5, latencies[-10:]

        # The stalled client reads what it was kept: the final event, and fewer progress events than sent.
        await slow.wait_for(lambda e: e["type"] == "job_complete", timeout=20)
        slow_progress = [e for e in slow.events if e["type"] == "progress"]
        assert len(slow_progress) < count, "a stalled socket must not buffer everything"
        slow_seqs = [e["seq"] for e in slow.events if "seq" in e]
        assert slow_seqs == sorted(slow_seqs) and slow_seqs[-1] - slow_seqs[0] + 1 > len(slow_seqs)  # gaps show
    finally:
        await asyncio.gather(fast.close(), slow.close(), return_exceptions=True)
        await publisher_redis.aclose()


async def test_progress_events_are_throttled_per_job(
    live_cluster: Cluster, live_settings: Settings, owner: LiveUser
) -> None:
    """A job reporting 200 steps sends at most ~10 progress events a second, and always the last one."""
    _, api_b, _ = live_cluster
    socket = await EventSocket.open(api_b.ws_url, owner.token)
    try:
        await socket.subscribed(user_channel(owner.id))
        job_id = str(
            await submit_test_job(live_settings, "test_sleep", user=owner, payload={"seconds": 1, "steps": 200})
        )
        await socket.wait_for(lambda e: e["type"] == "job_complete" and e["data"]["job_id"] == job_id, timeout=20)
    finally:
        await socket.close()
    progress = [e for e in socket.events if e["type"] == "progress"]
    first, last = (datetime.datetime.fromisoformat(progress[i]["timestamp"]) for i in (0, -1))
    seconds = (last - first).total_seconds()
    assert len(progress) <= 10 * seconds + 3, (len(progress), seconds)  # ~10 per second at most
    assert len(progress) < 100 and progress[-1]["data"]["progress"] == 1.0


async def test_a_reconnecting_client_resumes_by_seq(
    live_cluster: Cluster, live_settings: Settings, owner: LiveUser
) -> None:
    """Events published while a client was away are sent after it reconnects naming its last `seq`."""
    _, api_b, _ = live_cluster
    project_id = await create_project_with_budget(live_settings, owner, versions=1, positions_per_version=1)
    redis = Redis.from_url(live_settings.redis_url)
    publisher = RedisEventPublisher(redis, live_settings.REDIS_NAMESPACE)
    mine, project = user_channel(owner.id), project_channel(project_id)
    try:
        socket = await EventSocket.open(api_b.ws_url, owner.token)
        await socket.subscribed(mine)
        await socket.join(project_id)
        await publisher.publish(mine, "note", {"n": 0})
        await publisher.publish(project, "position_updated", {"n": 0})
        seen = {
            channel: (await socket.wait_for(lambda e, c=channel: e.get("channel") == c, what=channel))["seq"]
            for channel in (mine, project)
        }
        await socket.close()
        for n in range(1, 4):  # while the client is away
            await publisher.publish(mine, "note", {"n": n})
            await publisher.publish(project, "position_updated", {"n": n})

        resumed = await EventSocket.open(api_b.ws_url, owner.token, after_seq=seen[mine])
        try:
            await resumed.subscribed(mine)
            await resumed.send({"action": "join_project", "project_id": str(project_id), "after_seq": seen[project]})
            for channel in (mine, project):
                await resumed.wait_for(
                    lambda e, c=channel: e.get("channel") == c and e["seq"] == seen[c] + 3, what=f"{channel} caught up"
                )
        finally:
            await resumed.close()
        for channel in (mine, project):
            got = sorted({e["seq"] for e in resumed.events if e.get("channel") == channel})
            assert got == [seen[channel] + 1, seen[channel] + 2, seen[channel] + 3], (channel, got)
            numbers = [e["data"]["n"] for e in resumed.events if e.get("channel") == channel]
            assert numbers == [1, 2, 3]
    finally:
        await redis.aclose()
