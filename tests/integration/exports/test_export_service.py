"""The export job: an audited version as XLSX (a sheet per object, coloured status, totals) or CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import event, insert, select, update

from app.db.models import AuditResult, BudgetVersion, Position, Project
from app.domain.audits.jobs import audit_project
from app.domain.budgets.changes import ChangeSet
from app.domain.budgets.services import BudgetService
from app.domain.documents.jobs import parse_document_job
from app.domain.exports.jobs import export_job
from app.domain.exports.services import load_export
from tests.fixtures.budget_files import SAMPLE_BUDGET_POSITIONS, SAMPLE_BUDGET_TOTAL, unixml_bytes
from tests.support.audit_budgets import IN_ORDER, PRICED_BUDGET, build_budget
from tests.support.job_runs import Harness

VERDICTS = {"121151113": "GREEN", "274313711": "RED", "58932934": "AMBER"}


async def audited_project(harness: Harness) -> Project:
    """The sample budget parsed, three positions with an audit (statuses and expert rows)."""
    project = await harness.project(name="RD Lipová – novostavba")
    document = await harness.document(project, unixml_bytes(), "rozpocet.xml")
    await harness.run(
        parse_document_job, job_type="parse_document", project=project, payload={"document_id": str(document.id)}
    )
    positions = await harness.scalars(select(Position).where(Position.project_id == project.id))
    async with harness.sessions() as session, session.begin():
        for position in positions:
            status = VERDICTS.get(position.code or "")
            if status is None:
                continue
            await session.execute(update(Position).where(Position.id == position.id).values(status=status))
            issues = (
                [
                    {
                        "type": "class_below_minimum",
                        "severity": "RED",
                        "description": "C20/25 is below XA1 minimum C25/30",
                        "suggestion": "use C25/30",
                    }
                ]
                if status == "RED"
                else []
            )
            await session.execute(
                insert(AuditResult),
                [
                    {
                        "project_id": project.id,
                        "version_id": position.version_id,
                        "position_id": position.id,
                        "expert_role": "concrete",
                        "status": status,
                        "reasoning": "concrete check",
                        "issues": issues,
                    },
                    {
                        "project_id": project.id,
                        "version_id": position.version_id,
                        "position_id": position.id,
                        "expert_role": "orchestrator",
                        "status": status,
                        "reasoning": f"Verdict {status}.",
                        "issues": issues,
                    },
                ],
            )
    return project


def artifact(harness: Harness, relative: str | None) -> Path:
    assert relative is not None
    path = Path(harness.settings.STORAGE_DIR).resolve() / relative
    assert path.is_file()
    return path


async def test_xlsx_has_a_sheet_per_object_coloured_statuses_and_the_version_total(harness: Harness) -> None:
    project = await audited_project(harness)

    run = await harness.run(export_job, job_type="export", project=project, payload={"format": "xlsx"})

    assert run.artifact_path == f"artifacts/{run.row.id}.xlsx" == run.result["artifact"]
    assert run.result["positions"] == SAMPLE_BUDGET_POSITIONS and run.result["totals_match"] is True
    assert Decimal(run.result["total_cost"]) == SAMPLE_BUDGET_TOTAL
    assert run.result["filename"] == "RD-Lipova-novostavba-v1.xlsx"
    assert run.result["status_counts"] == {"GREEN": 1, "AMBER": 1, "RED": 1, "none": SAMPLE_BUDGET_POSITIONS - 3}
    [version] = await harness.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project.id))

    workbook = openpyxl.load_workbook(artifact(harness, run.artifact_path))
    assert workbook.sheetnames == [
        "Souhrn",
        "SO 01.1 Stavební část",
        "SO 01.2 Elektroinstalace",
        "SO 02 Zpevněné plochy",
    ]
    grand_total = Decimal("0")
    seen_statuses: dict[str, str] = {}
    for name in workbook.sheetnames[1:]:
        sheet = workbook[name]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[1] == (
            "PČ",
            "Kód",
            "Popis",
            "MJ",
            "Množství",
            "J. cena [CZK]",
            "Cena celkem [CZK]",
            "Stav auditu",
            "Důvody",
        )
        lines, total_row = rows[2:-1], rows[-1]
        line_sum = sum((Decimal(str(row[6])).quantize(Decimal("0.01")) for row in lines), Decimal("0"))
        assert Decimal(str(total_row[6])).quantize(Decimal("0.01")) == line_sum
        grand_total += line_sum
        for excel_row in sheet.iter_rows(min_row=3, max_row=sheet.max_row - 1):
            code, total_cell, status_cell = excel_row[1].value, excel_row[6], excel_row[7]
            assert total_cell.number_format == "#,##0.00"
            if status_cell.value:
                seen_statuses[code] = status_cell.value
                assert status_cell.fill.fill_type == "solid"
                assert (
                    status_cell.fill.start_color.rgb
                    == {"GREEN": "FFC6EFCE", "AMBER": "FFFFEB9C", "RED": "FFFFC7CE"}[status_cell.value]
                )
            if code == "274313711":
                assert excel_row[8].value == "Verdict RED.\n[RED] C20/25 is below XA1 minimum C25/30 → use C25/30"
    assert seen_statuses == VERDICTS
    assert grand_total == version.total_cost == SAMPLE_BUDGET_TOTAL

    summary = list(workbook["Souhrn"].iter_rows(values_only=True))
    total_line = next(row for row in summary if row[0] == "Celkem")
    assert total_line[1] == SAMPLE_BUDGET_POSITIONS
    assert Decimal(str(total_line[2])).quantize(Decimal("0.01")) == SAMPLE_BUDGET_TOTAL


async def test_csv_is_utf8_bom_semicolons_and_decimal_commas(harness: Harness) -> None:
    project = await audited_project(harness)

    run = await harness.run(export_job, job_type="export", project=project, payload={"format": "csv", "version": 1})

    raw = artifact(harness, run.artifact_path).read_bytes()
    assert run.artifact_path == f"artifacts/{run.row.id}.csv" and raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "Objekt",
        "PČ",
        "Kód",
        "Popis",
        "MJ",
        "Množství",
        "J. cena [CZK]",
        "Cena celkem [CZK]",
        "Stav auditu",
        "Důvody",
    ]
    strips = next(row for row in rows if row[2] == "274313711")
    assert strips[0] == "SO 01.1 Stavební část"
    assert (strips[5], strips[6], strips[7], strips[8]) == ("20,445", "3412,50", "69768,56", "RED")
    total = sum(Decimal(row[7].replace(",", ".")) for row in rows[1:])
    assert total == SAMPLE_BUDGET_TOTAL and len(rows) == SAMPLE_BUDGET_POSITIONS + 1


async def test_a_project_without_a_budget_fails_the_export_without_retries(harness: Harness) -> None:
    from app.domain.jobs.context import PermanentJobError

    project = await harness.project()
    with pytest.raises(PermanentJobError, match="no budget yet"):
        await harness.run(export_job, job_type="export", project=project, payload={"format": "xlsx"})


async def test_an_export_of_an_older_version_gives_that_versions_own_audit_reasons(harness: Harness) -> None:
    """Versions 1 and 2 share the unchanged rows; each export explains them by its own version's audit."""
    budget = await build_budget(harness, PRICED_BUDGET)
    await harness.run(audit_project, job_type="audit_project", project=budget.project)
    [lineage] = await harness.scalars(select(Position.lineage_id).where(Position.id == budget.position_ids[IN_ORDER]))
    async with harness.sessions() as session, session.begin():
        changes = ChangeSet(modified={lineage: {"quantity": Decimal(3)}})
        second = await BudgetService(session=session).create_version(budget.project.id, "user_edit", changes=changes)
    await harness.run(audit_project, job_type="audit_project", project=budget.project)
    async with harness.sessions() as session, session.begin():  # as if the catalogue had moved meanwhile
        await session.execute(
            update(AuditResult)
            .where(AuditResult.version_id == second.version.id, AuditResult.expert_role == "orchestrator")
            .values(reasoning="Version 2 says so.")
        )

    async with harness.sessions() as session:
        [project] = await session.scalars(select(Project).where(Project.id == budget.project.id))
        older = [line for obj in (await load_export(session, project, 1)).objects for line in obj.lines]
        newer = [line for obj in (await load_export(session, project, 2)).objects for line in obj.lines]

    assert len(older) == len(newer) == len(PRICED_BUDGET)
    assert not any("Version 2 says so." in line.reasons for line in older)
    assert all(line.reasons.startswith("Version 2 says so.") for line in newer)


async def test_an_export_loads_one_audit_per_position_however_many_versions_were_audited(harness: Harness) -> None:
    """Unchanged rows are shared by every version, and each version's audit adds its rows for them: the
    export loaded the audit rows of every audited version (memory growing with the history), to keep one."""
    budget = await build_budget(harness, PRICED_BUDGET)
    await harness.run(audit_project, job_type="audit_project", project=budget.project)
    [lineage] = await harness.scalars(select(Position.lineage_id).where(Position.id == budget.position_ids[IN_ORDER]))
    for quantity in (3, 4, 5):
        async with harness.sessions() as session, session.begin():
            changes = ChangeSet(modified={lineage: {"quantity": Decimal(quantity)}})
            await BudgetService(session=session).create_version(budget.project.id, "user_edit", changes=changes)
        await harness.run(audit_project, job_type="audit_project", project=budget.project)
    versions = select(BudgetVersion).where(BudgetVersion.project_id == budget.project.id)
    latest, *_ = await harness.scalars(versions.order_by(BudgetVersion.version.desc()))
    per_audit = len(await harness.scalars(select(AuditResult.id).where(AuditResult.version_id == latest.id)))

    loaded: list[AuditResult] = []
    listener = lambda target, _context: loaded.append(target)  # noqa: E731
    event.listen(AuditResult, "load", listener)
    try:
        async with harness.sessions() as session:
            [project] = await session.scalars(select(Project).where(Project.id == budget.project.id))
            lines = [line for obj in (await load_export(session, project, None)).objects for line in obj.lines]
    finally:
        event.remove(AuditResult, "load", listener)

    assert len(lines) == len(PRICED_BUDGET) and all(line.reasons for line in lines)
    assert 0 < len(loaded) <= per_audit, (len(loaded), per_audit)
