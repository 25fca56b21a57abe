"""Edits through two API instances racing reads through both: after each round, the very next read
of every default page, in each instance, shows exactly what PostgreSQL holds (the write-through,
the fills and the near-caches never keep an older state)."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.config import Settings
from tests.support.api import api_settings, build_test_app, concurrent_client, create_project, run_sql, signed_in_user

ROUNDS = 12


async def test_reads_racing_edits_in_two_instances_end_on_the_committed_state(
    settings: Settings, tmp_path: Path
) -> None:
    first = build_test_app(api_settings(settings, str(tmp_path / "a")))
    second = build_test_app(api_settings(settings, str(tmp_path / "b")))
    rng = random.Random(7)
    async with concurrent_client(first) as a, concurrent_client(second) as b:
        user = await signed_in_user(a)
        project = await create_project(a, user)
        pid = project["id"]
        base = f"/api/projects/{pid}"
        lineages = []
        for number in range(4):
            added = await a.post(
                f"{base}/positions",
                json={"description": f"P{number}", "quantity": "1", "unit_price": "10"},
                headers=user.headers,
            )
            assert added.status_code == 201, added.text
            lineages.append(added.json()["position"]["lineage_id"])
        reads = [base, f"{base}/positions", f"{base}/versions", "/api/projects"]

        async def read(client: Any, url: str) -> None:
            answer = await client.get(url, headers=user.headers)
            assert answer.status_code == 200, answer.text

        extra: list[str] = []

        async def add(client: Any) -> None:
            added = await client.post(
                f"{base}/positions",
                json={"description": "extra", "quantity": "1", "unit_price": "3"},
                headers=user.headers,
            )
            assert added.status_code == 201, added.text
            extra.append(added.json()["position"]["lineage_id"])

        async def remove(client: Any, lineage: str) -> None:
            removed = await client.delete(f"{base}/positions/{lineage}", headers=user.headers)
            assert removed.status_code == 200, removed.text

        for round_number in range(ROUNDS):
            work: list[Any] = [
                add(rng.choice((a, b))),
                rng.choice((a, b)).patch(base, json={"name": f"Round {round_number}"}, headers=user.headers),
            ]
            if extra:
                work.append(remove(rng.choice((a, b)), extra.pop()))
            for client in (a, b):
                lineage = rng.choice(lineages)
                work.append(
                    client.patch(
                        f"{base}/positions/{lineage}",
                        json={"quantity": str(rng.randint(1, 99))},
                        headers=user.headers,
                    )
                )
                work += [read(client, url) for url in reads for _ in range(2)]
            rng.shuffle(work)
            answers = await asyncio.gather(*work)
            for answer in answers:
                if answer is not None:
                    assert answer.status_code == 200, answer.text
            (row,) = await run_sql(
                settings, text(f"SELECT current_version, total_cost, name FROM projects WHERE id = '{pid}'")
            )
            version, total, name = row[0], row[1], row[2]
            quantities = {
                str(lineage): Decimal(quantity)
                for lineage, quantity in await run_sql(
                    settings,
                    text(
                        f"SELECT lineage_id, quantity FROM positions WHERE project_id = '{pid}' "
                        f"AND valid_from <= {version} AND valid_to > {version}"
                    ),
                )
            }
            for client in (a, b, a, b):
                state = (await client.get(base, headers=user.headers)).json()
                assert (state["current_version"], Decimal(state["total_cost"]), state["name"]) == (version, total, name)
                page = await client.get(f"{base}/positions", headers=user.headers)
                assert page.headers["etag"] == f'"{version}"'
                assert {p["lineage_id"]: Decimal(p["quantity"]) for p in page.json()["items"]} == quantities
                versions = (await client.get(f"{base}/versions", headers=user.headers)).json()
                assert versions["items"][0]["version"] == version
                listed = (await client.get("/api/projects", headers=user.headers)).json()["items"]
                assert [(p["current_version"], Decimal(p["total_cost"]), p["name"]) for p in listed] == [
                    (version, total, name)
                ]
