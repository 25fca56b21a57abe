"""Steps of the whole-chain tests over HTTP: the running stack, signing up, waiting for jobs, uploading."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.live import LiveApi, LiveProcess, wait_for

PASSWORD = "Correct-Horse-42"


@dataclass
class Stack:
    api: LiveApi
    worker: LiveProcess
    storage_dir: Path

    def logs(self) -> str:
        return "\n".join(
            f"--- {process.name} log ---\n{process.log_tail(150)}" for process in (self.api.process, self.worker)
        )


async def sign_up(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """Register and log in through the accounts API; the token and the header that carries it."""
    email = f"chain-{uuid.uuid4().hex[:10]}@example.cz"
    registered = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    return token, {"Authorization": f"Bearer {token}"}


async def finished_job(client: httpx.AsyncClient, headers: dict[str, str], job_id: str, stack: Stack) -> dict[str, Any]:
    """Poll GET /api/jobs/{id} until the job ended; it must have completed (else the logs are shown)."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"/api/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job = response.json()
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    job: dict[str, Any] = await wait_for(probe, timeout=60, interval=0.1, what=f"job {job_id}")
    assert job["status"] == "completed", f"{job}\n{stack.logs()}"
    return job


def follow_up(job: dict[str, Any], job_type: str) -> str:
    """The id of the job of `job_type` that a finished job queued (parse: follow_up_jobs, enrich: queued)."""
    queued = job["result"].get("follow_up_jobs") or job["result"].get("queued") or []
    [entry] = [item for item in queued if item["job_type"] == job_type]
    return str(entry["job_id"])


async def upload(client: httpx.AsyncClient, headers: dict[str, str], project_id: str, name: str, data: bytes) -> Any:
    response = await client.post(f"/api/projects/{project_id}/documents", files={"file": (name, data)}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()
