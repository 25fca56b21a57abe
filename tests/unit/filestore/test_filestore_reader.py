"""read_project on real-looking old data: both shapes, nothing lost, hashes, broken projects."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from app.domain.filestore import (
    LegacyProject,
    LegacyProjectError,
    fingerprint,
    position_refs,
    read_project,
    scan_store,
    stable_uuid,
)
from tests.fixtures.legacy_store import UNICODE_BUDGET, broken_project, write_file, write_json

# ---------------------------------------------------------------------------------------------
# "All leaves accounted for": every scalar of the source JSON appears in the normalised project.


def json_leaves(value: Any) -> Counter[tuple[str, str]]:
    """Multiset of the scalar leaves of a JSON value, typed (so 1, 1.0, "1" and true differ)."""
    found: Counter[tuple[str, str]] = Counter()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            found[(type(item).__name__, repr(item))] += 1
    return found


def assert_all_leaves_accounted_for(project_dir: Path, project: LegacyProject) -> None:
    source: Counter[tuple[str, str]] = Counter()
    for name in ("project.json", "positions.json", "audit_results.json"):
        path = project_dir / name
        if path.exists():
            source += json_leaves(msgspec.json.decode(path.read_bytes()))
    normalised = json_leaves(msgspec.to_builtins(project))
    missing = {leaf: count - normalised[leaf] for leaf, count in source.items() if normalised[leaf] < count}
    assert not missing, f"leaves of the source not found in the normalised project: {missing}"


def assert_project_keys_accounted_for(project_dir: Path, project: LegacyProject) -> None:
    """Path-exact check for project.json: each key is a metadata key or kept under legacy_fields,
    or it is a canonical key whose value the project reproduces."""
    doc = msgspec.json.decode((project_dir / "project.json").read_bytes())
    head = msgspec.to_builtins(project)
    legacy_fields = project.metadata.get("legacy_fields", {})
    for key, value in doc.items():
        if key in project.metadata:
            assert project.metadata[key] == value, key
        elif key in legacy_fields:
            assert legacy_fields[key] == value, key
        else:
            assert head[key] == value, key


@pytest.mark.parametrize("kind", ["spec", "old", "uuid", "empty"])
def test_nothing_is_lost(store: dict[str, Path], kind: str) -> None:
    project = read_project(store[kind])
    assert_all_leaves_accounted_for(store[kind], project)
    assert_project_keys_accounted_for(store[kind], project)


def test_leaf_check_notices_a_loss(store: dict[str, Path]) -> None:
    project = read_project(store["old"])
    del project.metadata["stats"]
    with pytest.raises(AssertionError, match=r"\('int', '3'\)"):
        assert_all_leaves_accounted_for(store["old"], project)


# ---------------------------------------------------------------------------------------------
# The two shapes


def test_spec_shape(store: dict[str, Path]) -> None:
    project = read_project(store["spec"])
    assert project.legacy_id == "proj_5f1c2a9e0b7d"
    assert project.id == stable_uuid("project", "proj_5f1c2a9e0b7d")
    assert project.name == "Most přes Labe – SO 201"
    assert project.description == "Audit rozpočtu mostu"
    assert project.workflow == "workflow_a"
    assert project.status == "completed"
    assert (project.owner_id, project.owner_email) == ("user_42", "jana.novakova@example.cz")
    assert project.created_at == datetime(2024, 2, 10, 9, 30, tzinfo=UTC)
    assert project.updated_at == datetime(2024, 2, 11, 15, 45, 12, 250000, tzinfo=UTC)
    assert project.metadata["tags"] == ["most", "beton"]
    assert project.metadata["legacy_positions_file"] == {"total": 2, "currency": "CZK"}
    assert project.directory == project.legacy_id
    assert project.warnings == []

    first, second = project.positions
    assert first.code == "273313611"
    assert first.quantity == Decimal("42.5")
    assert first.unit_price == Decimal("3250.0")
    assert first.total_price == Decimal("138125.0")
    assert first.catalog == "CS ÚRS 2025 02"
    assert first.object_code == "SO 201"
    assert first.measurements == ["(14+1)*(7,2+1)*0,35"]
    assert first.metadata["legacy"]["confidence_hint"] == 0.9
    assert second.quantity == Decimal("1234.56")
    assert second.unit_price == Decimal("12450.00")
    assert second.total_price is None
    assert second.unit == "M3"

    validator, cost = project.audit_results
    assert (validator.position_ref, validator.expert, validator.status) == ("pos_1", "validator", "GREEN")
    assert validator.confidence == 0.97
    assert validator.evidence == ["quantity > 0"]
    assert (cost.status, cost.confidence) == ("AMBER", pytest.approx(0.85))
    assert cost.issues[0]["description"] == "nad pásmem"
    assert cost.raw["confidence"] == "85 %"


def test_old_shape(store: dict[str, Path]) -> None:
    project = read_project(store["old"])
    assert project.legacy_id == "proj_0a56b78a847d"
    assert project.name == "Bytový dům Kolín"
    assert project.workflow == "workflow_a"
    assert project.status == "completed"  # "audited"
    assert (project.owner_id, project.owner_email) == ("7", "petr@example.cz")
    assert project.created_at == datetime(2023, 11, 5, 14, 3, 22, tzinfo=UTC)
    assert project.updated_at == datetime(2023, 11, 14, 22, 13, 19, tzinfo=UTC)
    legacy = project.metadata["legacy_fields"]
    assert legacy["project_id"] == "proj_0a56b78a847d"
    assert legacy["workflow"] == "A"
    assert legacy["status"] == "audited"
    assert legacy["user"]["role"] == "admin"
    assert project.metadata["stats"] == {"positions": 3, "red": 1}
    assert "files" in project.metadata

    kros, manual, unreadable = project.positions
    assert (kros.position_number, kros.item_type, kros.code) == ("1", "K", "273313611")
    assert kros.description == "Základové desky z betonu tř. C 16/20"
    assert (kros.unit, kros.quantity, kros.unit_price) == ("m3", Decimal("12.5"), Decimal("2980.50"))
    assert kros.total_price == Decimal("37256.25")
    assert kros.catalog == "CS ÚRS 2023 01"
    assert kros.category == "2 - Zakládání"
    assert manual.quantity == Decimal("1234.5")
    assert manual.unit_price == Decimal("38500.00")
    assert manual.measurements == ["12,5*0,1", "(0,2)"]
    assert manual.metadata["legacy"]["poznamka"] == "ručně doplněno"
    assert unreadable.quantity is None
    assert unreadable.metadata["legacy"]["mnozstvi"] == "asi 3"
    assert any("asi 3" in w for w in project.warnings)

    by_expert = {(r.position_ref, r.expert): r for r in project.audit_results}
    assert by_expert[("1", "orchestrator")].status == "RED"
    assert by_expert[("1", "concrete")].issues == [{"description": "třída pod minimem"}]
    assert by_expert[("1", "cost")].confidence == 0.7
    assert by_expert[("Pol31", "standards")].reasoning == "Soukromý kód"
    assert by_expert[("Pol31", "validator")].status == "GREEN"
    assert by_expert[("998", None)].status is None
    assert any("purple" in w for w in project.warnings)

    refs = position_refs(project.positions)
    assert refs["1"] == 0
    assert refs["Pol31"] == 1
    assert refs["998"] == 2


def test_uuid_and_empty_projects(store: dict[str, Path]) -> None:
    uuid_project = read_project(store["uuid"])
    assert str(uuid_project.id) == "9c5b94b1-35ad-49bb-b118-8e8fc24abf80"
    assert uuid_project.workflow == "workflow_b"
    assert uuid_project.status == "parsing"
    assert uuid_project.positions == []

    empty = read_project(store["empty"])
    assert empty.name == "Prázdný"
    assert (empty.positions, empty.audit_results, empty.files) == ([], [], [])
    assert empty.status == "draft"


def test_unknown_status_and_bad_dates_are_kept(data_dir: Path) -> None:
    project_dir = data_dir / "p1"
    write_json(
        project_dir / "project.json",
        {"id": "p1", "name": "X", "status": "archived", "workflow": "C", "created_at": "yesterday"},
    )
    project = read_project(project_dir)
    assert (project.status, project.workflow, project.created_at) == ("draft", None, None)
    assert project.metadata["legacy_fields"] == {
        "id": "p1",
        "status": "archived",
        "workflow": "C",
        "created_at": "yesterday",
    }
    assert len(project.warnings) == 3


def test_audit_list_shaped_like_the_writers_but_invalid_is_read_as_old_data(data_dir: Path) -> None:
    project_dir = data_dir / "p"
    write_json(project_dir / "project.json", {"id": "p"})
    entry = {
        "position_ref": "1",
        "expert": "cost",
        "status": "amber",  # the writer only ever writes GREEN / AMBER / RED
        "confidence": None,
        "reasoning": None,
        "evidence": None,
        "issues": [],
        "raw": {"x": 1},
    }
    write_json(project_dir / "audit_results.json", [entry])
    (result,) = read_project(project_dir).audit_results
    assert (result.position_ref, result.status) == ("1", "AMBER")
    assert result.raw == entry


def test_directory_name_differing_from_id_is_kept(data_dir: Path) -> None:
    write_json(data_dir / "folder_a" / "project.json", {"project_id": "proj_a", "project_name": "A"})
    project = read_project(data_dir / "folder_a")
    assert project.legacy_id == "proj_a"
    assert project.directory == "folder_a"


def test_utf8_bom_is_accepted(data_dir: Path) -> None:
    project_dir = data_dir / "bom"
    project_dir.mkdir()
    (project_dir / "project.json").write_bytes(b"\xef\xbb\xbf" + '{"id": "bom", "name": "Č"}'.encode())
    assert read_project(project_dir).name == "Č"


# ---------------------------------------------------------------------------------------------
# Files


def test_every_file_is_listed_with_area_type_and_hash(store: dict[str, Path]) -> None:
    project_dir = store["old"]
    project = read_project(project_dir)
    on_disk = sorted(
        p.relative_to(project_dir).as_posix()
        for p in project_dir.rglob("*")
        if p.is_file() and p.name not in {"project.json", "positions.json", "audit_results.json"}
    )
    assert [f.relative_path for f in project.files] == on_disk
    by_path = {f.relative_path: f for f in project.files}

    budget = by_path[f"raw/vykaz_vymer/{UNICODE_BUDGET}"]
    assert (budget.area, budget.file_type, budget.legacy_file_id) == ("raw", "vykaz_vymer", "f_001")
    data = (project_dir / budget.relative_path).read_bytes()
    assert budget.size == len(data) == 17
    assert budget.sha256 == hashlib.sha256(data).hexdigest()
    assert budget.mtime == datetime(2024, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)

    drawing_name = unicodedata.normalize("NFD", "Půdorys základů.pdf")
    drawing = by_path[f"raw/vykresy/SO 01/Stavební část/{drawing_name}"]  # the on-disk (NFD) name
    assert (drawing.file_type, drawing.legacy_file_id, drawing.size) == ("vykresy", "f_002", 5)

    assert by_path["raw/bez_typu.txt"].file_type is None
    assert by_path["processed/text/poznamky.txt"].area == "processed"
    assert by_path["processed/text/poznamky.txt"].file_type is None
    assert by_path["processed/text/poznamky.txt"].sha256 == hashlib.sha256(b"").hexdigest()
    assert by_path["artifacts/project_info.json"].area == "artifacts"
    assert by_path["notes.md"].area == "other"


def test_file_type_from_files_entry_when_not_in_a_subfolder(data_dir: Path) -> None:
    project_dir = data_dir / "p"
    write_json(
        project_dir / "project.json",
        {"project_id": "p", "files": [{"file_id": 9, "filename": "rozpocet.xml", "file_type": "vykaz_vymer"}]},
    )
    write_file(project_dir / "raw" / "rozpocet.xml", "<unixml/>")
    (file,) = read_project(project_dir).files
    assert (file.file_type, file.legacy_file_id) == ("vykaz_vymer", "9")


def test_large_file_is_hashed_in_chunks(data_dir: Path) -> None:
    project_dir = data_dir / "big"
    write_json(project_dir / "project.json", {"id": "big"})
    payload = os.urandom(3 * 1024 * 1024 + 17)
    write_file(project_dir / "raw" / "vykresy" / "big.pdf", payload)
    (file,) = read_project(project_dir).files
    assert file.size == len(payload)
    assert file.sha256 == hashlib.sha256(payload).hexdigest()


def test_lock_and_temp_files_are_not_project_files(data_dir: Path) -> None:
    project_dir = data_dir / "p"
    write_json(project_dir / "project.json", {"id": "p"})
    write_file(project_dir / ".lock", "")
    write_file(project_dir / "raw" / ".a.pdf.0123456789abcdef.tmp", "half")
    write_file(project_dir / ".DS_Store", "x")
    assert [f.relative_path for f in read_project(project_dir).files] == [".DS_Store"]


# ---------------------------------------------------------------------------------------------
# Broken projects


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("project.json", "project.json is not valid JSON"),
        ("positions.json", "positions.json is not valid JSON"),
        ("audit_results.json", "audit_results.json is not valid JSON"),
    ],
)
def test_broken_json_raises_with_reason(data_dir: Path, broken: str, reason: str) -> None:
    project_dir = broken_project(data_dir, broken=broken)
    with pytest.raises(LegacyProjectError) as caught:
        read_project(project_dir)
    assert caught.value.project_dir == project_dir
    assert caught.value.reason.startswith(reason)
    assert str(project_dir) in str(caught.value)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({}, "project.json is missing"),
        ({"project.json": b""}, "project.json is empty (0 bytes)"),
        ({"project.json": b"[1, 2]"}, "project.json: expected an object, found a list"),
        ({"project.json": b"{}", "positions.json": b'"x"'}, "positions.json: expected a list of positions"),
        ({"project.json": b"{}", "positions.json": b'{"a": 1}'}, "positions.json: an object without"),
        (
            {"project.json": b"{}", "positions.json": b"[{}, 5]"},
            "positions.json: position 1 is a number, not an object",
        ),
        (
            {"project.json": b"{}", "audit_results.json": b"[3]"},
            "audit_results.json: an entry is a number, not an object",
        ),
        ({"project.json": b'{"legacy_fields": 1}'}, "project.json: key 'legacy_fields' is reserved"),
    ],
)
def test_unreadable_content_raises_with_reason(data_dir: Path, files: dict[str, bytes], reason: str) -> None:
    project_dir = data_dir / "p"
    project_dir.mkdir()
    for name, data in files.items():
        (project_dir / name).write_bytes(data)
    with pytest.raises(LegacyProjectError) as caught:
        read_project(project_dir)
    assert caught.value.reason.startswith(reason), caught.value.reason


def test_unreadable_file_raises_with_reason(data_dir: Path) -> None:
    project_dir = data_dir / "p"
    write_json(project_dir / "project.json", {"id": "p"})
    (project_dir / "raw").mkdir()
    (project_dir / "raw" / "gone.pdf").symlink_to(project_dir / "nowhere.pdf")
    with pytest.raises(LegacyProjectError, match=r"raw/gone\.pdf: not a file"):
        read_project(project_dir)


def test_non_utf8_file_name_raises_with_reason(data_dir: Path) -> None:
    project_dir = data_dir / "p"
    write_json(project_dir / "project.json", {"id": "p"})
    raw_dir = project_dir / "raw"
    raw_dir.mkdir()
    with open(os.path.join(os.fsencode(raw_dir), b"V\xfdkaz.xlsx"), "wb") as handle:  # cp1250 name
        handle.write(b"x")
    with pytest.raises(LegacyProjectError, match="not valid UTF-8"):
        read_project(project_dir)


def test_a_migration_skips_broken_projects_and_goes_on(store: dict[str, Path], data_dir: Path) -> None:
    read, skipped = [], []
    for project_dir in scan_store(data_dir):
        try:
            read.append(read_project(project_dir).legacy_id)
        except LegacyProjectError as exc:
            skipped.append((project_dir.name, exc.reason))
    assert len(read) == 4
    assert skipped == [("proj_broken00001", "positions.json is not valid JSON: Input data was truncated")]


# ---------------------------------------------------------------------------------------------
# Scanning and fingerprints


def test_scan_store_is_sorted_and_skips_hidden_and_files(store: dict[str, Path], data_dir: Path) -> None:
    (data_dir / ".trash").mkdir()
    (data_dir / "README.txt").write_text("x")
    assert list(scan_store(data_dir)) == sorted(store.values())


def test_fingerprint_is_stable_and_sees_every_change(store: dict[str, Path]) -> None:
    project_dir = store["old"]
    original = fingerprint(project_dir)
    assert fingerprint(project_dir) == original
    read_project(project_dir)
    assert fingerprint(project_dir) == original  # reading changes nothing

    target = project_dir / "raw" / "dokumentace" / "poznamky.txt"
    stat = target.stat()
    target.write_text("Technická zpráva v2\n")
    changed = fingerprint(project_dir)
    assert changed != original

    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000))
    assert fingerprint(project_dir) not in {original, changed}  # same name, other mtime

    before = fingerprint(project_dir)
    write_file(project_dir / "processed" / "new.txt", "")
    assert fingerprint(project_dir) != before

    before = fingerprint(project_dir)
    (project_dir / "positions.json").write_text("[]")
    assert fingerprint(project_dir) != before


def test_fingerprint_ignores_the_lock_file(store: dict[str, Path]) -> None:
    project_dir = store["spec"]
    before = fingerprint(project_dir)
    (project_dir / ".lock").write_text("")
    assert fingerprint(project_dir) == before
