"""`migrate-files` against real PostgreSQL: what lands where, verify, re-runs, changes, dry run."""

from __future__ import annotations

import hashlib
import os
import uuid
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from app.domain.filestore import read_project, stable_uuid
from app.domain.filestore.migrate import UNUSABLE_PASSWORD_HASH, migrate_store
from app.domain.filestore.verify import verify_store
from tests.fixtures.legacy_store import UNICODE_BUDGET, sample_store, write_file, write_json
from tests.integration.filestore.support import FileStoreEnv, canonical_dump, counts, fetch, tricky_project

SPEC = "proj_5f1c2a9e0b7d"
OLD = "proj_0a56b78a847d"
UUID_ID = "9C5B94B1-35AD-49BB-B118-8E8FC24ABF80"


def read_stored(storage_path: str) -> bytes:
    with open(storage_path, "rb") as handle:
        return handle.read()


@pytest.fixture
def store(fs: FileStoreEnv) -> dict[str, Path]:
    found = sample_store(fs.data_dir)
    found["tricky"] = tricky_project(fs.data_dir)
    return found


async def test_migrate_then_verify_shows_no_difference(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    report = await migrate_store(fs.settings, fs.data_dir)

    assert report.projects_found == 6
    assert report.projects_migrated == 5
    assert report.projects_failed == 1 and not report.ok
    assert [(s.directory, s.kind) for s in report.skipped] == [("proj_broken00001", "failed")]
    assert "positions.json is not valid JSON" in report.skipped[0].reason
    assert report.positions == 2 + 3 + 0 + 0 + 3
    assert report.documents == 3 + 7 + 2
    rows = await counts(fs.dsn)
    assert rows["projects"] == 5 and rows["positions"] == report.positions
    assert rows["audit_results"] == report.audit_results
    assert rows["project_documents"] == report.documents

    verified = await verify_store(fs.settings, fs.data_dir)
    assert [d.directory for d in verified.differences] == ["proj_broken00001"]
    assert verified.projects_equal == 5
    assert verified.documents_checked == report.documents


async def test_rows_hold_every_field(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    await migrate_store(fs.settings, fs.data_dir)
    project_id = stable_uuid("project", SPEC)
    [project] = await fetch(fs.dsn, "SELECT * FROM projects WHERE id = $1", project_id)
    assert project["name"] == "Most přes Labe – SO 201"
    assert (project["workflow"], project["status"], project["current_version"]) == ("workflow_a", "completed", 1)
    metadata = msgspec.json.decode(project["metadata"])
    assert metadata["legacy_id"] == SPEC
    assert metadata["legacy"]["metadata"]["tags"] == ["most", "beton"]
    assert metadata["migration"]["fingerprint"]
    [owner] = await fetch(fs.dsn, "SELECT * FROM users WHERE id = $1", project["user_id"])
    assert owner["email"] == "jana.novakova@example.cz" and owner["status"] == "active"
    assert owner["password_hash"] == UNUSABLE_PASSWORD_HASH

    [version] = await fetch(fs.dsn, "SELECT * FROM budget_versions WHERE project_id = $1", project_id)
    assert (version["version"], version["trigger_type"], version["total_positions"]) == (1, "initial", 2)
    # 42.5 × 3250 = 138 125.00 as written; 1 234.56 × 12 450.00 = 15 370 272.00 computed
    assert version["total_cost"] == Decimal("15508397.00") == project["total_cost"]
    added = msgspec.json.decode(version["changes"])["added"]
    assert [a["code"] for a in added] == ["273313611", "272325"]

    positions = await fetch(
        fs.dsn, "SELECT * FROM positions WHERE project_id = $1 ORDER BY (metadata->>'legacy_index')::int", project_id
    )
    first, second = positions
    assert first["id"] == stable_uuid("position", f"{SPEC}/id:pos_1")
    assert first["lineage_id"] == stable_uuid("position_lineage", f"{SPEC}/id:pos_1")
    assert (first["source"], first["code"], first["unit"]) == ("migrated", "273313611", "m3")
    assert (first["quantity"], first["unit_price"], first["total_price"]) == (
        Decimal("42.5000"),
        Decimal("3250.00"),
        Decimal("138125.00"),
    )
    assert second["total_price"] == Decimal("15370272.00") and second["status"] == "AMBER"
    first_meta = msgspec.json.decode(first["metadata"])
    assert first_meta["legacy_id"] == "pos_1"
    assert first_meta["legacy"]["catalog"] == "CS ÚRS 2025 02"
    assert first_meta["record"]["measurements"] == ["(14+1)*(7,2+1)*0,35"]

    audits = await fetch(fs.dsn, "SELECT * FROM audit_results WHERE project_id = $1 ORDER BY expert_role", project_id)
    assert [(a["expert_role"], a["recommendation"], a["confidence"]) for a in audits] == [
        ("cost", "AMBER", Decimal("85.00")),
        ("validator", "GREEN", Decimal("97.00")),
    ]
    assert audits[0]["position_id"] == second["id"]

    documents = await fetch(fs.dsn, "SELECT * FROM project_documents WHERE project_id = $1", project_id)
    by_path = {msgspec.json.decode(d["metadata"])["relative_path"]: d for d in documents}
    budget = by_path[f"raw/vykaz_vymer/{UNICODE_BUDGET}"]
    source_bytes = (store["spec"] / "raw" / "vykaz_vymer" / UNICODE_BUDGET).read_bytes()
    assert budget["filename"] == UNICODE_BUDGET and budget["file_type"] == "vykaz_vymer"
    assert budget["file_size"] == len(source_bytes)
    assert budget["content_hash"] == hashlib.sha256(source_bytes).hexdigest()
    assert budget["storage_path"].startswith(f"{fs.storage_dir}/projects/{project_id}/legacy/")
    assert read_stored(budget["storage_path"]) == source_bytes
    assert budget["id"] == stable_uuid("document", f"{SPEC}/raw/vykaz_vymer/{UNICODE_BUDGET}")
    assert {msgspec.json.decode(d["metadata"])["area"] for d in documents} == {"raw", "processed", "artifacts"}


async def test_old_shape_audits_owners_and_unplaced_results(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    await migrate_store(fs.settings, fs.data_dir)
    old_id = stable_uuid("project", OLD)
    audits = await fetch(fs.dsn, "SELECT expert_role, recommendation FROM audit_results WHERE project_id = $1", old_id)
    assert sorted((a["expert_role"], a["recommendation"]) for a in audits) == [
        ("concrete", "RED"),
        ("cost", "GREEN"),
        ("orchestrator", "RED"),
        ("standards", "AMBER"),
        ("validator", "GREEN"),
    ]
    [project] = await fetch(fs.dsn, "SELECT metadata, user_id, issues_count_red FROM projects WHERE id = $1", old_id)
    unplaced = msgspec.json.decode(project["metadata"])["legacy"]["unplaced_audit_results"]
    assert [(u["reason"], u["result"]["raw"]) for u in unplaced] == [("no expert named", {"status": "purple"})]
    assert project["issues_count_red"] == 1
    [owner] = await fetch(fs.dsn, "SELECT email FROM users WHERE id = $1", project["user_id"])
    assert owner["email"] == "petr@example.cz"
    # nested raw/ folders, NFD names and files outside the known areas are all documents
    paths = {
        msgspec.json.decode(r["metadata"])["relative_path"]
        for r in await fetch(fs.dsn, "SELECT metadata FROM project_documents WHERE project_id = $1", old_id)
    }
    assert "notes.md" in paths and any(p.startswith("raw/vykresy/SO 01/Stavební část/") for p in paths)

    tricky_id = stable_uuid("project", "proj_tricky00001")
    [tricky] = await fetch(fs.dsn, "SELECT metadata, user_id, total_cost FROM projects WHERE id = $1", tricky_id)
    reasons = [u["reason"] for u in msgspec.json.decode(tricky["metadata"])["legacy"]["unplaced_audit_results"]]
    assert reasons == ["a second verdict of 'cost' on the same position", "position 'zzz' not found", "no expert named"]
    # 1.23456 × 10.005 = 12.3517… → 12.35; 2 × 0.125 = 0.25; no price → no total
    assert tricky["total_cost"] == Decimal("12.60")
    positions = await fetch(
        fs.dsn,
        "SELECT id, quantity, unit_price, metadata FROM positions WHERE project_id = $1 "
        "ORDER BY (metadata->>'legacy_index')::int",
        tricky_id,
    )
    assert (positions[0]["quantity"], positions[0]["unit_price"]) == (Decimal("1.2346"), Decimal("10.01"))
    assert msgspec.json.decode(positions[0]["metadata"])["record"]["quantity"] == "1.23456"
    assert len({p["id"] for p in positions}) == 3  # the repeated old id "a" falls back to the index
    [default_owner] = await fetch(fs.dsn, "SELECT * FROM users WHERE id = $1", tricky["user_id"])
    assert default_owner["email"] == fs.settings.MIGRATION_DEFAULT_OWNER
    assert default_owner["status"] == "active" and default_owner["password_hash"].startswith("!")
    blobs = [p for p in (fs.storage_dir / "projects" / str(tricky_id)).rglob("*") if p.is_file()]
    assert len(blobs) == 1  # two documents with the same bytes share one content-addressed copy


async def test_rerun_duplicates_nothing(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    await migrate_store(fs.settings, fs.data_dir)
    first = await canonical_dump(fs.dsn)

    again = await migrate_store(fs.settings, fs.data_dir)
    assert (again.projects_unchanged, again.projects_migrated, again.projects_failed) == (5, 0, 1)
    assert await canonical_dump(fs.dsn) == first

    forced = await migrate_store(fs.settings, fs.data_dir, force=True, batch_size=2)
    assert forced.projects_migrated == 5 and forced.bytes_copied == 0
    assert await canonical_dump(fs.dsn) == first


async def test_changed_project_is_updated_on_rerun(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    await migrate_store(fs.settings, fs.data_dir)
    before = await counts(fs.dsn)
    positions_file = store["old"] / "positions.json"
    positions = msgspec.json.decode(positions_file.read_bytes())
    positions[0]["Množství"] = "13,5"
    positions.append({"kod": "999", "popis": "Nová položka", "mj": "kus", "mnozstvi": 1, "jednotkova_cena": 100})
    write_json(positions_file, positions)
    write_file(store["old"] / "raw" / "dokumentace" / "poznamky.txt", "Technická zpráva, verze 2\n")
    (store["spec"] / "artifacts" / "project_info.json").unlink()

    report = await migrate_store(fs.settings, fs.data_dir)
    assert (report.projects_migrated, report.projects_unchanged) == (2, 3)
    after = await counts(fs.dsn)
    assert after["positions"] == before["positions"] + 1
    assert after["project_documents"] == before["project_documents"] - 1
    old_id = stable_uuid("project", OLD)
    [row] = await fetch(
        fs.dsn, "SELECT quantity FROM positions WHERE project_id = $1 AND position_number = '1'", old_id
    )
    assert row["quantity"] == Decimal("13.5000")
    verified = await verify_store(fs.settings, fs.data_dir)
    assert [d.directory for d in verified.differences] == ["proj_broken00001"]


async def test_a_project_the_database_refuses_is_skipped_alone(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    (store["broken"] / "positions.json").unlink()  # repaired: now every project is readable
    write_json(fs.data_dir / "proj_nul" / "project.json", {"id": "proj_nul", "name": "NUL"})
    write_json(fs.data_dir / "proj_nul" / "positions.json", [{"popis": "text s \u0000 uvnitř"}])

    report = await migrate_store(fs.settings, fs.data_dir, batch_size=10)  # all projects in one batch
    assert report.projects_migrated == 6
    assert [s.directory for s in report.skipped] == ["proj_nul"]
    assert "database refused it" in report.skipped[0].reason
    assert (await counts(fs.dsn))["projects"] == 6


async def test_dry_run_writes_nothing(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    report = await migrate_store(fs.settings, fs.data_dir, dry_run=True)
    assert report.dry_run and report.projects_migrated == 5 and report.positions == 8
    assert report.owners_created  # reported, not created
    assert await counts(fs.dsn) == dict.fromkeys(await counts(fs.dsn), 0)
    assert not fs.storage_dir.exists()


async def test_a_project_changed_in_postgresql_is_kept(fs: FileStoreEnv, store: dict[str, Path]) -> None:
    await migrate_store(fs.settings, fs.data_dir)
    project_id = stable_uuid("project", SPEC)
    await fetch(
        fs.dsn,
        "INSERT INTO budget_versions (project_id, version, trigger_type) VALUES ($1, 2, 'user_edit') RETURNING id",
        project_id,
    )
    born_id = uuid.uuid4()
    [owner] = await fetch(fs.dsn, "SELECT id FROM users LIMIT 1")
    await fetch(
        fs.dsn, "INSERT INTO projects (id, user_id, name) VALUES ($1, $2, 'Nový') RETURNING id", born_id, owner["id"]
    )
    write_json(fs.data_dir / str(born_id) / "project.json", {"id": str(born_id), "name": "Ze souborů"})
    write_json(store["spec"] / "positions.json", [])
    os.utime(store["spec"] / "positions.json", ns=(1, 1))

    report = await migrate_store(fs.settings, fs.data_dir)
    kept = {s.directory: s.reason for s in report.skipped if s.kind == "kept"}
    assert set(kept) == {SPEC, str(born_id)} and report.projects_kept == 2
    assert "changed in PostgreSQL since its migration" in kept[SPEC]
    assert "created in PostgreSQL" in kept[str(born_id)]
    [row] = await fetch(fs.dsn, "SELECT name FROM projects WHERE id = $1", born_id)
    assert row["name"] == "Nový"
    assert len(await fetch(fs.dsn, "SELECT id FROM positions WHERE project_id = $1", project_id)) == 2

    # coming back after a rollback: the files win for migrated projects, never for born ones
    replaced = await migrate_store(fs.settings, fs.data_dir, replace_changed=True)
    assert [s.directory for s in replaced.skipped if s.kind == "kept"] == [str(born_id)]
    assert await fetch(fs.dsn, "SELECT id FROM positions WHERE project_id = $1", project_id) == []
    versions = await fetch(fs.dsn, "SELECT version FROM budget_versions WHERE project_id = $1", project_id)
    assert versions == []  # the file has no positions any more, so no version either


def test_read_back_of_the_sample_is_lossless(store: dict[str, Path]) -> None:
    """Guard for the tests above: the fixture store reads as expected."""
    assert read_project(store["uuid"]).legacy_id == UUID_ID
