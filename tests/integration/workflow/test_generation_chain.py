"""Workflow B and re-parsing over HTTP, with a real API process and a real worker."""

from __future__ import annotations

import httpx

from tests.fixtures.budget_files import unixml_bytes
from tests.integration.workflow.http_steps import Stack, finished_job, follow_up, sign_up, upload

REPORT = """Technická zpráva – SO 01 Bytový dům

Základová deska tl. 300 mm, beton C20/25 XC2, objem 45,6 m3
Věnce C20/25 XC1 – objem bude upřesněn
"""
SCHEDULE = "Prvek;Beton;Stupeň;Objem [m3];Výztuž [kg]\nZákladové pasy;C16/20;XC2;18,5;1 480\n".encode("cp1250")


async def test_generate_a_budget_from_documents_then_audit_and_export_it(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30) as client:
        _, headers = await sign_up(client)
        created = await client.post(
            "/api/projects", json={"name": "Bytový dům", "workflow": "workflow_b"}, headers=headers
        )
        project_id = created.json()["id"]
        await upload(client, headers, project_id, "technicka_zprava.txt", REPORT.encode())
        await upload(client, headers, project_id, "vykaz.csv", SCHEDULE)

        refused = await client.post(
            f"/api/projects/{project_id}/generate", json={"formwork_m2_per_m3": {"chimney": 2}}, headers=headers
        )
        assert refused.status_code == 400, refused.text
        started = await client.post(f"/api/projects/{project_id}/generate", headers=headers)
        assert started.status_code == 202, started.text
        generated = await finished_job(client, headers, started.json()["job_id"], stack)
        result = generated["result"]
        assert result["version_created"] is True and generated["job_type"] == "generate_budget_from_drawings"
        assert [(e["kind"], e["volume_m3"]) for e in result["elements"]] == [
            ("foundation_slab", "45.6"),
            ("ring_beam", None),
            ("foundation_strip", "18.5"),
        ]
        assert [m["element"] for m in result["not_found"]] == ["Věnce C20/25 XC1"]

        audit = await finished_job(client, headers, follow_up(generated, "audit_project"), stack)
        assert audit["result"]["positions"] == result["positions"] == 8, (audit["result"], stack.logs())
        positions = (await client.get(f"/api/projects/{project_id}/positions", headers=headers)).json()
        assert positions["total"] == 8
        assert {item["source"] for item in positions["items"]} == {"generated"}
        assert all(item["status"] in ("GREEN", "AMBER", "RED") for item in positions["items"])

        exported = await client.post(f"/api/projects/{project_id}/export", json={"format": "csv"}, headers=headers)
        export_job = await finished_job(client, headers, exported.json()["job_id"], stack)
        assert export_job["result"]["positions"] == 8 and export_job["result"]["totals_match"] is True
        bad_format = await client.post(f"/api/projects/{project_id}/export", json={"format": "pdf"}, headers=headers)
        assert bad_format.status_code == 400


async def test_reparsing_a_project_over_http_makes_no_duplicate_version(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30) as client:
        _, headers = await sign_up(client)
        created = await client.post(
            "/api/projects", json={"name": "Reparse", "workflow": "workflow_a"}, headers=headers
        )
        project_id = created.json()["id"]
        uploaded = await upload(client, headers, project_id, "rozpocet.xml", unixml_bytes())
        first = await finished_job(client, headers, uploaded["job"]["id"], stack)
        await finished_job(client, headers, follow_up(first, "enrich"), stack)

        started = await client.post(f"/api/projects/{project_id}/parse", headers=headers)
        assert started.status_code == 202 and set(started.json()) == {"job_id", "status"}
        again = await finished_job(client, headers, started.json()["job_id"], stack)
        assert again["result"]["versions_created"] == [] and again["result"]["follow_up_jobs"] == []

        versions = (await client.get(f"/api/projects/{project_id}/versions", headers=headers)).json()
        assert [v["trigger_type"] for v in versions["items"]][-1] == "document_added"
        assert sum(1 for v in versions["items"] if v["trigger_type"] == "document_added") == 1
        document = (await client.get(f"/api/documents/{uploaded['document']['id']}", headers=headers)).json()
        assert document["parse_status"] == "completed" and document["parsed_at"]
