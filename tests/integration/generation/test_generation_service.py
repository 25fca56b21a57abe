"""Workflow B end to end in the service: report + schedule → priced, generated version → its audit queued."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.db.models import AuditResult, BackgroundJob, BudgetVersion, Position, Project
from app.domain.audits.jobs import audit_project
from app.domain.documents.jobs import parse_document_job
from app.domain.generation.jobs import generate_budget_job
from tests.fixtures.budget_files import pdf_bytes
from tests.support.job_runs import Harness, JobRun

REPORT = """Technická zpráva – SO 01 Bytový dům

Základová deska tl. 300 mm, beton C20/25 XC2, objem 45,6 m3
Bednění okrajů: 12,4 m2

Sloupy 0,3 x 0,3 m, v. 3,0 m, 8 ks, beton C25/30 XC1
Věnce C20/25 XC1 – objem bude upřesněn
"""
SCHEDULE = "Prvek;Beton;Stupeň;Objem [m3];Výztuž [kg]\nStěny 1.PP;C30/37;XC4 XF1;38,2;3 450\n".encode("cp1250")


async def generate(harness: Harness, project: Project, payload: dict | None = None) -> JobRun:
    return await harness.run(
        generate_budget_job, job_type="generate_budget_from_drawings", project=project, payload=payload or {}
    )


async def generated_positions(harness: Harness, project: Project) -> dict[tuple[str, str], Position]:
    rows = await harness.scalars(
        select(Position)
        .join(BudgetVersion, BudgetVersion.id == Position.version_id)
        .where(BudgetVersion.project_id == project.id, BudgetVersion.version == 1)
    )
    return {(p.metadata_["generated"]["kind"], p.metadata_["generated"]["material"]): p for p in rows}


async def test_generation_finds_quantities_derives_materials_prices_them_and_lists_what_is_missing(
    harness: Harness,
) -> None:
    project = await harness.project(workflow="workflow_b", name="Bytový dům Lipová")
    report = await harness.document(project, REPORT.encode(), "technicka_zprava.txt")
    schedule = await harness.document(project, SCHEDULE, "vykaz_betonu.csv")
    await harness.run(
        parse_document_job, job_type="parse_document", project=project, payload={"document_id": str(schedule.id)}
    )

    run = await generate(harness, project)

    result = run.result
    assert result["version"] == 1 and result["version_created"] is True
    assert [(d["filename"], d["read_from"]) for d in result["documents"]] == [
        ("technicka_zprava.txt", "file"),  # not parsed yet: read from its file
        ("vykaz_betonu.csv", "indexed_content"),
    ]
    assert [(e["kind"], e["volume_m3"]) for e in result["elements"]] == [
        ("foundation_slab", "45.6"),
        ("column", "2.160"),
        ("ring_beam", None),
        ("wall", "38.2"),
    ]
    assert result["not_found"] == [
        {
            "element": "Věnce C20/25 XC1",
            "kind": "ring_beam",
            "missing": "concrete volume (m3)",
            "document": "technicka_zprava.txt",
            "line": 7,
        }
    ]
    positions = await generated_positions(harness, project)
    assert set(positions) == {
        ("foundation_slab", "concrete"),
        ("foundation_slab", "formwork"),
        ("foundation_slab", "formwork_removal"),
        ("foundation_slab", "reinforcement"),
        ("column", "concrete"),
        ("column", "formwork"),
        ("column", "formwork_removal"),
        ("column", "reinforcement"),
        ("wall", "concrete"),
        ("wall", "formwork"),
        ("wall", "formwork_removal"),
        ("wall", "reinforcement"),
    }
    slab = positions[("foundation_slab", "concrete")]
    assert (slab.code, slab.unit, slab.quantity, slab.unit_price, slab.total_price) == (
        "273313711",
        "m3",
        Decimal("45.6000"),
        Decimal("4340.00"),
        Decimal("197904.00"),
    )
    assert (slab.source, slab.source_document_id, slab.source_line) == ("generated", report.id, 3)
    assert slab.category == "2 - Zakládání" and slab.metadata_["object_code"] == "SO 01"
    assert slab.enrichment["match"]["code"] == "273313711" and slab.enrichment["score"] == 1.0
    assert "C20/25 XC2" in slab.metadata_["full_description"]

    formwork = positions[("foundation_slab", "formwork")]
    assert (formwork.code, formwork.quantity, formwork.metadata_["generated"]["basis"]) == (
        "273351121",
        Decimal("12.4000"),
        "stated",
    )
    slab_rebar = positions[("foundation_slab", "reinforcement")]
    assert (slab_rebar.code, slab_rebar.unit, slab_rebar.quantity) == ("273361821", "t", Decimal("4.5600"))
    assert slab_rebar.metadata_["generated"]["basis"] == "ratio for foundation_slab 100 kg/m3 × 45.6 m3"

    columns = positions[("column", "formwork")]
    assert columns.quantity == Decimal("28.8000")  # 8 × 2 × (0,3 + 0,3) × 3,0 from the stated dimensions
    wall_rebar = positions[("wall", "reinforcement")]
    assert (wall_rebar.quantity, wall_rebar.metadata_["generated"]["basis"]) == (Decimal("3.4500"), "stated")
    wall = positions[("wall", "concrete")]
    assert (wall.code, wall.unit_price, wall.source_document_id) == (None, None, schedule.id)  # no wall item
    assert "Stěny 1.PP: beton 38,2 m3" not in result["unpriced"]
    assert any(line.startswith("Stěny 1.PP: concrete 38.200 m3") for line in result["unpriced"])
    assert any("no column concrete item of class C25/30" in note for note in result["catalogue_notes"])

    [version] = await harness.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project.id))
    assert version.trigger_type == "generated" and version.trigger_details["job_id"] == str(run.row.id)
    assert version.total_positions == 12
    assert version.total_cost == Decimal(result["total_cost"])
    assert version.total_cost == sum((p.total_price or Decimal(0) for p in positions.values()), Decimal(0))

    # The audit of the new version is queued with the result, and the project waits for it.
    [follow_up] = result["follow_up_jobs"]
    assert follow_up["job_type"] == "audit_project"
    [audit_row] = await harness.scalars(select(BackgroundJob).where(BackgroundJob.id == follow_up["job_id"]))
    assert (audit_row.status, audit_row.queue, audit_row.payload["version"]) == ("queued", "high", 1)
    [stored] = await harness.scalars(select(Project).where(Project.id == project.id))
    assert stored.status == "auditing" and result["project_status"] == "auditing"


async def test_a_generated_element_priced_with_another_class_is_amber_in_its_audit(harness: Harness) -> None:
    # The catalogue has no C25/30 column item: the column is priced with another class's item, and
    # the audit must not call that GREEN (the description names C25/30, the code another class).
    project = await harness.project(workflow="workflow_b")
    await harness.document(project, REPORT.encode(), "technicka_zprava.txt")
    await generate(harness, project)
    await harness.run(audit_project, job_type="audit_project", project=project)

    column = (await generated_positions(harness, project))[("column", "concrete")]
    [verdict] = await harness.scalars(
        select(AuditResult).where(AuditResult.position_id == column.id, AuditResult.expert_role == "orchestrator")
    )
    assert verdict.status == "AMBER"
    [issue] = [issue for issue in verdict.issues if issue["type"] == "standards.concrete_class_differs_from_item"]
    assert "C25/30" in issue["description"] and column.code in issue["description"]


async def test_generating_again_from_the_same_documents_makes_no_new_version(harness: Harness) -> None:
    project = await harness.project(workflow="workflow_b")
    await harness.document(project, REPORT.encode(), "technicka_zprava.txt")

    first = await generate(harness, project)
    again = await generate(harness, project)

    assert first.result["version_created"] is True
    assert again.result["version_created"] is False and again.result["follow_up_jobs"] == []
    versions = await harness.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project.id))
    assert [v.version for v in versions] == [1]


async def test_ratios_from_the_request_change_derived_quantities(harness: Harness) -> None:
    project = await harness.project(workflow="workflow_b")
    await harness.document(project, "Základová deska C20/25 XC2, 40 m3\n".encode(), "zprava.txt")

    run = await generate(harness, project, {"reinforcement_kg_per_m3": {"foundation_slab": "150"}})

    [element] = run.result["elements"]
    rebar = next(m for m in element["materials"] if m["material"] == "reinforcement")
    assert (rebar["quantity"], rebar["basis"]) == ("6.000", "ratio for foundation_slab 150 kg/m3 × 40 m3")


async def test_documents_without_quantities_generate_nothing_and_say_so(harness: Harness) -> None:
    project = await harness.project(workflow="workflow_b")
    await harness.document(project, "Stěny C30/37 XC4, objem dle výkresu.\n".encode(), "zprava.txt")
    await harness.document(project, b"\x00\x01binary", "scan.bin")

    run = await generate(harness, project)

    assert (
        run.result["positions"] == 0 and run.result["version"] is None and "nothing was generated" in run.result["note"]
    )
    assert [m["element"] for m in run.result["not_found"]] == ["Stěny C30/37 XC4"]
    assert [d["filename"] for d in run.result["unreadable_documents"]] == ["scan.bin"]
    assert await harness.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project.id)) == []
    [stored] = await harness.scalars(select(Project).where(Project.id == project.id))
    assert stored.status == "draft"


async def test_a_pdf_report_is_read_for_its_text(harness: Harness) -> None:
    project = await harness.project(workflow="workflow_b")
    report = pdf_bytes(["SO 01 Hala", "Zakladova deska tl. 250 mm, beton C20/25 XC2, objem 40 m3"])
    await harness.document(project, report, "zprava.pdf")

    run = await generate(harness, project)

    [element] = run.result["elements"]
    assert (element["kind"], element["volume_m3"], element["object_code"]) == ("foundation_slab", "40", "SO 01")
    assert run.result["version_created"] is True and run.result["positions"] == 4


async def test_parsing_a_document_after_generation_leaves_the_generated_positions(harness: Harness) -> None:
    """Generated positions point at the document they were read from; its (late) parse job must not
    take them for its own uploaded positions and remove them."""
    project = await harness.project(workflow="workflow_b")
    schedule = await harness.document(project, SCHEDULE, "vykaz_betonu.csv")
    generated = await generate(harness, project)

    parse = await harness.run(
        parse_document_job, job_type="parse_document", project=project, payload={"document_id": str(schedule.id)}
    )

    assert generated.result["version_created"] is True and parse.result["versions_created"] == []
    versions = await harness.scalars(select(BudgetVersion).where(BudgetVersion.project_id == project.id))
    assert [(v.version, v.total_positions) for v in versions] == [(1, generated.result["positions"])]
