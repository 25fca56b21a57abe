"""Load profile of estimators reading and editing their budgets (run by run_load.py, or by hand:
`locust -f loadtests/locustfile.py --host http://127.0.0.1:8000`)."""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task


class Estimator(FastHttpUser):
    """An estimator who mostly reads their projects and budget, and sometimes edits a position.

    Accounts, projects and positions are made before the measurement starts (run_load.py seeds them
    and passes them in LOAD_SEED), so the report measures steady-state traffic, not argon2 sign-ups.
    Without a seed file each user signs up itself.
    """

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        seed = _next_seed()
        if seed is not None:
            self.headers = {"Authorization": f"Bearer {seed['token']}"}
            self.project_id = seed["project_id"]
            self.position_ids: list[str] = list(seed["position_ids"])
            return
        email = f"load-{uuid.uuid4().hex[:12]}@example.com"
        password = "Load-test-password-1"
        self.client.post("/api/auth/register", json={"email": email, "password": password}, name="register")
        login = self.client.post("/api/auth/login", json={"email": email, "password": password}, name="login")
        self.headers = {"Authorization": f"Bearer {login.json()['token']}"}
        project = self.client.post(
            "/api/projects",
            json={"name": "Load project", "workflow": "workflow_a"},
            headers=self.headers,
            name="/api/projects [create]",
        ).json()
        self.project_id = project["id"]
        self.position_ids = []
        for index in range(5):
            created = self.client.post(
                f"/api/projects/{self.project_id}/positions",
                json=position_body(index),
                headers=self.headers,
                name="/api/projects/{id}/positions [create]",
            )
            if created.status_code == 201:
                self.position_ids.append(created.json()["position"]["lineage_id"])

    @task(5)
    def list_projects(self) -> None:
        self.client.get("/api/projects", headers=self.headers, name="/api/projects")

    @task(5)
    def project_state(self) -> None:
        self.client.get(f"/api/projects/{self.project_id}", headers=self.headers, name="/api/projects/{id}")

    @task(3)
    def positions(self) -> None:
        self.client.get(
            f"/api/projects/{self.project_id}/positions", headers=self.headers, name="/api/projects/{id}/positions"
        )

    @task(1)
    def versions(self) -> None:
        self.client.get(
            f"/api/projects/{self.project_id}/versions", headers=self.headers, name="/api/projects/{id}/versions"
        )

    @task(2)
    def me(self) -> None:
        self.client.get("/api/me", headers=self.headers, name="/api/me")

    @task(1)
    def edit_position(self) -> None:
        if not self.position_ids:
            return
        position = random.choice(self.position_ids)
        self.client.patch(
            f"/api/projects/{self.project_id}/positions/{position}",
            json={"quantity": f"{random.randint(1, 500)}.5"},
            headers=self.headers,
            name="/api/projects/{id}/positions/{pid} [edit]",
        )


def position_body(index: int) -> dict[str, str]:
    return {
        "code": f"27331{index:04d}",
        "description": f"Beton C30/37 XC2 část {index}",
        "unit": "m3",
        "quantity": "12.5",
        "unit_price": "3450.00",
    }


_SEEDS: list[dict[str, Any]] = (
    json.loads(Path(os.environ["LOAD_SEED"]).read_text()) if os.environ.get("LOAD_SEED") else []
)
_seed_index = itertools.count()


def _next_seed() -> dict[str, Any] | None:
    if not _SEEDS:
        return None
    return _SEEDS[next(_seed_index) % len(_SEEDS)]
