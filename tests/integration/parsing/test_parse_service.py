"""The parse job's database side: versions, positions, document fields and project status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.db.models import BudgetVersion, Position, Project, ProjectDocument
from app.domain.documents.jobs import parse_document_job
from tests.fixtures.budget_files import (
    CZECH_CSV_ROWS,
    SAMPLE_BUDGET_POSITIONS,
    SAMPLE_BUDGET_TOTAL,
    csv_bytes,
    kros_xlsx_bytes,
    plain_xlsx_bytes,
    random_bytes,
    unixml_bytes,
)
from tests.fixtures.hostile_files import dense_range_bomb, lying_zip_bomb
from tests.support.job_runs import Harness, JobRun

COMPARED = ("position_number", "code", "description", "category", "unit", "quantity", "unit_price", "total_price")
COMPARED_METADATA = ("object_code", "object_name", "full_description", "catalog", "item_type", "measurements")


async def parse(harness: Harness, project: Project, document: ProjectDocument | None = None) -> JobRun:
    payload = {"document_id": str(document.id)} if document is not None else {}
    return await harness.run(parse_document_job, job_type="parse_document", project=project, payload=payload)


async def positions_of(harness: Harness, project: Project) -> list[Position]:
    latest = select(func.max(BudgetVersion.version)).where(BudgetVersion.project_id == project.id).scalar_subquery()
    return await harness.scalars(
        select(Position)
        .join(BudgetVersion, BudgetVersion.id == Position.version_id)
        .where(BudgetVersion.project_id == project.id, BudgetVersion.version == latest)
        .order_by(Position.source_line, Position.position_number)
    )


def comparable(position: Position) -> dict[str, Any]:
    fields = {name: getattr(position, name) for name in COMPARED}
    fields.update({name: position.metadata_.get(name) for name in COMPARED_METADATA})
    return fields


def budget_order(positions: list[Position]) -> list[dict[str, Any]]:
    """Comparable fields by object and position number (the formats number source lines differently)."""
    return sorted(map(comparable, positions), key=lambda p: (p["object_code"], int(p["position_number"])))


async def versions_of(harness: Harness, project: Project) -> list[BudgetVersion]:
    return await harness.scalars(
        select(BudgetVersion).where(BudgetVersion.project_id == project.id).order_by(BudgetVersion.version)
    )


async def reload(harness: Harness, row: Any) -> Any:
    [fresh] = await harness.scalars(select(type(row)).where(type(row).id == row.id))
    return fresh


async def test_unixml_and_kros_excel_give_the_same_positions_and_total(harness: Harness) -> None:
    owner = await harness.owner()
    from_xml = await harness.project(owner)
    from_excel = await harness.project(owner)
    xml_document = await harness.document(from_xml, unixml_bytes(), "rozpocet.xml")
    excel_document = await harness.document(from_excel, kros_xlsx_bytes(), "rozpocet.xlsx")

    xml_run = await parse(harness, from_xml, xml_document)
    excel_run = await parse(harness, from_excel, excel_document)

    for run, document, fmt in ((xml_run, xml_document, "unixml"), (excel_run, excel_document, "kros_xlsx")):
        [outcome] = run.result["documents"]
        assert outcome["parse_status"] == "completed" and outcome["format"] == fmt
        assert outcome["version"] == 1 and outcome["version_created"] is True
        assert outcome["positions"] == SAMPLE_BUDGET_POSITIONS
        assert run.result["failed"] == 0 and run.result["versions_created"] == [1]
        stored = await reload(harness, document)
        assert stored.parse_status == "completed" and stored.parse_error is None and stored.parsed_at is not None
        assert stored.extracted_data["format"] == fmt
        assert stored.extracted_data["version"] == 1
        assert stored.extracted_data["counts"]["positions"] == SAMPLE_BUDGET_POSITIONS
        assert Decimal(stored.extracted_data["totals"]["total_price"]) == SAMPLE_BUDGET_TOTAL
        assert [obj["code"] for obj in stored.extracted_data["objects"]] == ["SO 01", "SO 01.1", "SO 01.2", "SO 02"]
        assert "Základové pásy z betonu" in stored.indexed_content

    xml_positions = await positions_of(harness, from_xml)
    excel_positions = await positions_of(harness, from_excel)
    assert len(xml_positions) == SAMPLE_BUDGET_POSITIONS
    assert budget_order(excel_positions) == budget_order(xml_positions)
    for positions, document in ((xml_positions, xml_document), (excel_positions, excel_document)):
        assert {(p.source, p.source_document_id) for p in positions} == {("uploaded", document.id)}
        assert all(p.source_line is not None for p in positions)

    strips = next(p for p in xml_positions if p.code == "274313711")
    assert strips.metadata_["full_description"] == "Základové pásy z betonu tř. C 20/25 XC2, včetně ošetření povrchu"
    assert strips.metadata_["measurements"] == ["56,8*0,6*0,6", "0,6*0,5*0,5*-1,6"]
    assert (strips.metadata_["object_code"], strips.metadata_["item_type"]) == ("SO 01.1", "K")
    assert strips.metadata_["catalog"] == "CS ÚRS 2025 02"

    for project, document, fmt in ((from_xml, xml_document, "unixml"), (from_excel, excel_document, "kros_xlsx")):
        [version] = await versions_of(harness, project)
        assert version.trigger_type == "document_added"
        assert version.trigger_details["document_id"] == str(document.id)
        assert (version.trigger_details["format"], version.trigger_details["filename"]) == (fmt, document.filename)
        assert version.total_cost == SAMPLE_BUDGET_TOTAL and version.total_positions == SAMPLE_BUDGET_POSITIONS
        stored_project = await reload(harness, project)
        assert stored_project.total_cost == SAMPLE_BUDGET_TOTAL and stored_project.current_version == 1
        assert stored_project.status in ("completed", "enriching", "auditing")


async def test_cp1250_csv_with_an_unreadable_price_is_parsed_and_the_warning_kept(harness: Harness) -> None:
    project = await harness.project()
    document = await harness.document(project, csv_bytes(CZECH_CSV_ROWS, encoding="cp1250"), "zed.csv")

    run = await parse(harness, project, document)

    [outcome] = run.result["documents"]
    assert (outcome["parse_status"], outcome["format"], outcome["positions"], outcome["warnings"]) == (
        "completed",
        "csv",
        3,
        1,
    )
    stored = await reload(harness, document)
    assert stored.extracted_data["warnings"] == [
        {"line": 9, "message": "position 3: unit price is not a number: 'x25 600'", "sheet": None}
    ]
    assert stored.extracted_data["metadata"]["encoding"] == "cp1250"
    wall, _formwork, rebar = await positions_of(harness, project)
    assert wall.description == "Opěrné zdi a valy ze ŽB tř. C 30/37 XF4"
    assert (wall.quantity, wall.unit_price, wall.total_price) == (
        Decimal("48.5000"),
        Decimal("4512.40"),
        Decimal("218851.40"),
    )
    assert wall.category == "3 - Svislé a kompletní konstrukce" and wall.source_line == 5
    assert (rebar.unit_price, rebar.total_price, rebar.metadata_["item_type"]) == (None, None, "M")
    [version] = await versions_of(harness, project)
    assert version.total_cost == Decimal("218851.40") + Decimal("1188492.50")


async def test_a_broken_file_fails_the_document_not_the_job_and_leaves_nothing(harness: Harness) -> None:
    project = await harness.project()
    truncated = kros_xlsx_bytes()[:2000]
    broken = await harness.document(project, truncated, "rozpocet.xlsx")
    noise = await harness.document(project, random_bytes(), "data.bin")

    run = await parse(harness, project)  # the whole project, as POST /api/projects/{id}/parse does

    assert run.result["parsed"] == 0 and run.result["failed"] == 2
    assert run.result["versions_created"] == [] and run.result["project_status"] == "failed"
    assert "user errors" in run.result["note"] and len(run.result["user_errors"]) == 2
    for document in (broken, noise):
        stored = await reload(harness, document)
        assert stored.parse_status == "failed"
        assert stored.parse_error and stored.parsed_at is not None
        assert stored.indexed_content is None and stored.extracted_data["version"] is None
    assert "damaged or truncated" in (await reload(harness, broken)).parse_error
    assert "not recognised" in (await reload(harness, noise)).parse_error
    assert await versions_of(harness, project) == []
    assert await harness.scalars(select(Position).where(Position.project_id == project.id)) == []
    assert (await reload(harness, project)).status == "failed"


async def test_parsing_the_same_document_again_makes_no_new_version(harness: Harness) -> None:
    project = await harness.project()
    document = await harness.document(project, unixml_bytes(), "rozpocet.xml")

    first = await parse(harness, project, document)
    again = await parse(harness, project, document)
    whole_project = await parse(harness, project)

    assert first.result["versions_created"] == [1]
    for run in (again, whole_project):
        [outcome] = run.result["documents"]
        assert outcome["version"] == 1 and outcome["version_created"] is False
        assert run.result["versions_created"] == [] and run.result["follow_up_jobs"] == []
    assert [v.version for v in await versions_of(harness, project)] == [1]
    assert len(await harness.scalars(select(Position).where(Position.project_id == project.id))) == (
        SAMPLE_BUDGET_POSITIONS
    )
    assert (await reload(harness, document)).extracted_data["version"] == 1


async def test_a_second_budget_document_adds_its_positions_in_a_new_version(harness: Harness) -> None:
    project = await harness.project()
    budget = await harness.document(project, unixml_bytes(), "rozpocet.xml")
    wall = await harness.document(project, csv_bytes(CZECH_CSV_ROWS), "zed.csv")

    await parse(harness, project, budget)
    run = await parse(harness, project, wall)

    assert run.result["versions_created"] == [2]
    versions = await versions_of(harness, project)
    assert [(v.version, v.total_positions) for v in versions] == [(1, SAMPLE_BUDGET_POSITIONS), (2, 15)]
    assert len(versions[1].changes["added"]) == 3 and versions[1].changes["removed"] == []


async def test_a_text_report_is_indexed_without_a_version(harness: Harness) -> None:
    project = await harness.project()
    report = "Technická zpráva\nZákladová deska tl. 300 mm z betonu C30/37 XC2.\n".encode()
    document = await harness.document(project, report, "zprava.txt")

    run = await parse(harness, project, document)

    [outcome] = run.result["documents"]
    assert (outcome["parse_status"], outcome["format"], outcome["version"]) == ("completed", "txt", None)
    stored = await reload(harness, document)
    assert stored.parse_status == "completed" and "C30/37 XC2" in stored.indexed_content
    assert stored.extracted_data["counts"]["positions"] == 0
    assert await versions_of(harness, project) == []
    assert (await reload(harness, project)).status == "draft"


async def test_a_schedule_in_a_workflow_b_project_is_kept_as_table_text(harness: Harness) -> None:
    project = await harness.project(workflow="workflow_b")
    schedule = "Prvek;Beton;Objem [m3]\nZákladová deska;C30/37 XC2;45,6\n".encode("cp1250")
    document = await harness.document(project, schedule, "vykaz.csv")

    run = await parse(harness, project, document)

    [outcome] = run.result["documents"]
    assert (outcome["parse_status"], outcome["format"]) == ("completed", "table")
    assert "Základová deska | C30/37 XC2 | Objem 45,6 m3" in (await reload(harness, document)).indexed_content

    workflow_a = await harness.project()
    same_file = await harness.document(workflow_a, schedule, "vykaz.csv")
    await parse(harness, workflow_a, same_file)
    assert (await reload(harness, same_file)).parse_status == "failed"


async def test_what_is_not_a_position_is_counted_in_the_document_and_the_job_result(harness: Harness) -> None:
    project = await harness.project()
    document = await harness.document(project, kros_xlsx_bytes(figure_list=True), "rozpocet.xlsx")

    run = await parse(harness, project, document)

    [outcome] = run.result["documents"]
    assert outcome["positions"] == SAMPLE_BUDGET_POSITIONS
    stored = await reload(harness, document)
    report = stored.extracted_data["skipped"]
    assert [sheet["kind"] for sheet in report["sheets"]] == ["recapitulation", "figure_list"]
    assert report["counts"]["summary"] == 3  # one "Náklady soupisu celkem" row per object sheet
    assert report["counts"]["section"] > 0 and report["counts"]["sheet_rows:figure_list"] > 0
    assert all(row["line"] and row["reason"] and row["sheet"] for row in report["rows"])
    assert stored.extracted_data["attached"]["measurement"] > 0
    assert stored.extracted_data["counts"]["skipped_rows"] == sum(report["counts"].values())
    assert outcome["skipped"] == report["counts"]
    assert outcome["skipped_sheets"] == report["sheets"]
    assert outcome["skipped_rows"] == report["rows"][:100]


async def test_an_import_loses_no_row_silently(harness: Harness) -> None:
    rows = [
        ("Kód", "Popis", "MJ", "Množství", "J.cena [CZK]", "Cena celkem"),
        ("273321311", "Železobeton základových desek C 25/30", "m3", "12,5", "4 150,00", "51 875,00"),
        ("274351121", "Bednění základových pasů", "", "21,2", "421,00", "8 925,20"),
        ("", "Celkem", "", "", "", "60 800,20"),
    ]
    data = csv_bytes(rows, encoding="cp1250") + "631311133\tMazanina C 12/15\tm3\t15,12\t4 860\t73 483,20\r\n".encode(
        "cp1250"
    )
    project = await harness.project()
    document = await harness.document(project, data, "rozpocet.csv")

    run = await parse(harness, project, document)

    [outcome] = run.result["documents"]
    assert (outcome["positions"], outcome["warnings"]) == (3, 2)
    assert outcome["skipped"] == {"summary": 1}
    assert outcome["skipped_rows"] == [
        {
            "line": 4,
            "kind": "summary",
            "reason": "a subtotal or recapitulation row, not a position",
            "sheet": None,
            "text": "Celkem | 60 800,20",
        }
    ]
    stored = await reload(harness, document)
    assert stored.extracted_data["skipped"]["rows"] == outcome["skipped_rows"]
    assert [w["line"] for w in stored.extracted_data["warnings"]] == [3, 5]
    assert {p.code for p in await positions_of(harness, project)} == {"273321311", "274351121", "631311133"}


async def test_hostile_workbooks_end_as_failed_parses_with_a_reason(harness: Harness) -> None:
    project = await harness.project()
    dense = await harness.document(project, dense_range_bomb(), "rozpocet.xlsx")
    lying = await harness.document(project, lying_zip_bomb(4), "bomb.xlsx")

    run = await parse(harness, project)

    assert run.result["failed"] == 2 and run.result["parsed"] == 0
    assert "spans 1,048,576 rows × 16,384 columns" in (await reload(harness, dense)).parse_error
    assert "cannot be unpacked" in (await reload(harness, lying)).parse_error
    assert await harness.scalars(select(Position).where(Position.project_id == project.id)) == []


async def test_a_text_too_large_for_the_search_index_is_indexed_in_part(harness: Harness) -> None:
    # 150,000 distinct words (1.2 MB of text, under the character cap) make a tsvector over PostgreSQL's 1 MB.
    report = " ".join(f"dil{number:06d}" for number in range(150_000)).encode()
    project = await harness.project()
    document = await harness.document(project, report, "soupis_dilu.txt")

    run = await parse(harness, project, document)

    [outcome] = run.result["documents"]
    assert outcome["parse_status"] == "completed"
    stored = await reload(harness, document)
    kept = stored.extracted_data["metadata"]["text_indexed_characters"]
    assert 0 < kept < len(report) and stored.indexed_content == report.decode()[:kept]
    assert stored.extracted_data["counts"]["text_characters"] == len(report)


async def test_nul_characters_in_a_file_never_reach_postgresql(harness: Harness) -> None:
    """A NUL past the text sniffer's 64 KiB sample (CSV) or written as `_x0000_` (xlsx) is text PostgreSQL
    cannot store: the position is stored without it, not a failed job."""
    header = ("PČ", "Kód", "Popis", "MJ", "Množství", "J.cena", "Cena celkem")
    items = [(str(n), f"3273231{n:02}", "Zeď " + "x" * 300, "m3", "2", "10", "20") for n in range(1, 300)]
    last = ("300", "327323300", "Opěrné\x00 zdi", "m3", "2", "10", "20")  # ~100 KB into the file
    csv_file = csv_bytes([header, *items, last], encoding="utf-8")
    xlsx_file = plain_xlsx_bytes([header, ("300", "327323300", "Opěrné_x0000_ zdi", "m3", 2, 10, 20)])
    for data, filename in ((csv_file, "nul.csv"), (xlsx_file, "nul.xlsx")):
        project = await harness.project()
        document = await harness.document(project, data, filename)

        run = await parse(harness, project, document)

        [outcome] = run.result["documents"]
        assert outcome["parse_status"] == "completed", (filename, outcome.get("error"), outcome)
        [position] = [p for p in await positions_of(harness, project) if p.code == "327323300"]
        assert position.description == "Opěrné zdi", filename


async def test_text_longer_than_its_column_is_cut_with_a_warning(harness: Harness) -> None:
    """PostgreSQL refused the whole budget ("value too long for type character varying(50)", a failed
    job naming no field) for one over-long PČ, code or unit; the row is kept, the value cut and warned."""
    header = ("PČ", "Kód", "Popis", "MJ", "Množství", "J.cena", "Cena celkem")
    csv_file = csv_bytes([header, ("1" * 60, "3" * 150, "Zeď", "m" * 30, "2", "10", "20")], encoding="utf-8")
    xlsx_file = plain_xlsx_bytes([header, (1e300, "327323128", "Zeď", "m3", 2, 10, 20)])
    for data, filename, cut in ((csv_file, "long.csv", 3), (xlsx_file, "long.xlsx", 1)):
        project = await harness.project()
        document = await harness.document(project, data, filename)

        run = await parse(harness, project, document)

        [outcome] = run.result["documents"]
        assert outcome["parse_status"] == "completed", (filename, outcome.get("error"))
        [position] = await positions_of(harness, project)
        assert position.description == "Zeď" and len(position.position_number or "") == 50
        assert len(position.code or "") <= 100 and len(position.unit or "") <= 20
        warnings = (await reload(harness, document)).extracted_data["warnings"]
        assert len([w for w in warnings if "cut to" in w["message"]]) == cut, warnings
