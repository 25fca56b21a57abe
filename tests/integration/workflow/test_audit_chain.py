"""Workflow A as a user drives it, over HTTP and a WebSocket, with a real API process and a real worker:

register → log in → create a project → upload a UNIXML budget → parse → enrich → audit (queued by
each other) → export XLSX and CSV → download. Progress and job_complete events arrive on the socket
in order, and two runs of the same file give the same statuses.
"""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import openpyxl

from app.config import Settings
from tests.fixtures.budget_files import SAMPLE_BUDGET_POSITIONS, SAMPLE_BUDGET_TOTAL, unixml_bytes
from tests.integration.workflow.http_steps import Stack, finished_job, follow_up, sign_up
from tests.support.live import wait_for
from tests.support.sockets import EventSocket

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JOB_EVENTS = ("progress", "job_complete", "job_failed")


async def run_chain(stack: Stack, client: httpx.AsyncClient) -> dict[str, Any]:
    """One user, one project, the whole chain; returns what the test compares between runs."""
    token, headers = await sign_up(client)
    socket = await EventSocket.open(stack.api.ws_url, token)
    try:
        await socket.wait_for(lambda e: e["type"] == "subscribed", what="the user's channel")
        created = await client.post(
            "/api/projects", json={"name": "RD Lipová", "workflow": "workflow_a"}, headers=headers
        )
        assert created.status_code == 201, created.text
        project_id = created.json()["id"]

        uploaded = await client.post(
            f"/api/projects/{project_id}/documents",
            files={"file": ("rozpocet.xml", unixml_bytes(), "application/xml")},
            headers=headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        parse = await finished_job(client, headers, uploaded.json()["job"]["id"], stack)
        assert parse["job_type"] == "parse_document"
        assert parse["result"]["versions_created"] == [1] and parse["result"]["failed"] == 0

        enrich = await finished_job(client, headers, follow_up(parse, "enrich"), stack)
        audit = await finished_job(client, headers, follow_up(enrich, "audit_project"), stack)
        assert audit["job_type"] == "audit_project"

        project = (await client.get(f"/api/projects/{project_id}", headers=headers)).json()
        assert project["status"] == "completed", project

        exports: dict[str, httpx.Response] = {}
        export_jobs: list[str] = []
        for export_format in ("xlsx", "csv"):
            started = await client.post(
                f"/api/projects/{project_id}/export", json={"format": export_format}, headers=headers
            )
            assert started.status_code == 202, started.text
            job = await finished_job(client, headers, started.json()["job_id"], stack)
            assert job["result"]["totals_match"] is True
            export_jobs.append(job["id"])
            exports[export_format] = await client.get(f"/api/jobs/{job['id']}/artifact", headers=headers)
            assert exports[export_format].status_code == 200, exports[export_format].text

        chain = [parse["id"], enrich["id"], audit["id"], *export_jobs]
        await wait_for(lambda: _completed_on_socket(socket, chain), timeout=15, what="every job_complete on the socket")
        events = [e for e in socket.events if e["type"] in JOB_EVENTS and e["data"].get("project_id") == project_id]
    finally:
        await socket.close()

    assert_events_in_order(events, chain)
    return {
        "project_id": project_id,
        "statuses": read_xlsx_statuses(exports["xlsx"]),
        "csv": exports["csv"],
        "audit_summary": {k: v for k, v in audit["result"].items() if k in ("positions", "red", "amber", "green")},
    }


async def _completed_on_socket(socket: EventSocket, job_ids: list[str]) -> bool:
    await asyncio.wait_for(socket.barrier(), 5)  # everything published so far has arrived
    done = {e["data"]["job_id"] for e in socket.events if e["type"] == "job_complete"}
    return set(job_ids) <= done


def assert_events_in_order(events: list[dict[str, Any]], chain: list[str]) -> None:
    """Each job: progress that never goes back, then exactly one job_complete, last; jobs complete in chain order."""
    completions = [e["data"]["job_id"] for e in events if e["type"] == "job_complete"]
    assert completions == chain, completions
    assert not [e for e in events if e["type"] == "job_failed"]
    for job_id in chain:
        own = [e for e in events if e["data"]["job_id"] == job_id]
        assert own and own[-1]["type"] == "job_complete", [e["type"] for e in own]
        fractions = [e["data"]["progress"] for e in own if e["type"] == "progress"]
        assert fractions and fractions == sorted(fractions), fractions
        seqs = [e["seq"] for e in own]
        assert seqs == sorted(seqs)


def read_xlsx_statuses(response: httpx.Response) -> dict[tuple[str, str, str], str]:
    assert response.headers["content-type"].startswith(XLSX_TYPE)
    assert "attachment" in response.headers.get("content-disposition", "")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[0] == "Souhrn" and len(workbook.sheetnames) == 4
    statuses: dict[tuple[str, str, str], str] = {}
    total = Decimal("0")
    for name in workbook.sheetnames[1:]:
        rows = list(workbook[name].iter_rows(min_row=3, values_only=True))
        for row in rows[:-1]:
            statuses[(name, str(row[0]), str(row[1]))] = row[7]
            total += Decimal(str(row[6])).quantize(Decimal("0.01"))
    assert len(statuses) == SAMPLE_BUDGET_POSITIONS and total == SAMPLE_BUDGET_TOTAL
    assert set(statuses.values()) <= {"GREEN", "AMBER", "RED"}
    return statuses


async def test_upload_parse_enrich_audit_export_over_http_and_websocket(live_settings: Settings, stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30) as client:
        first = await run_chain(stack, client)
        second = await run_chain(stack, client)

    assert first["statuses"] == second["statuses"]
    assert first["audit_summary"] == second["audit_summary"]
    csv_response = first["csv"]
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert csv_response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == SAMPLE_BUDGET_POSITIONS + 1
    assert sum(Decimal(row[7].replace(",", ".")) for row in rows[1:]) == SAMPLE_BUDGET_TOTAL
