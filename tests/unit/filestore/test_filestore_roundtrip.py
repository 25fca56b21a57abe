"""write_project is the inverse of read_project: read → write → read gives an equal project."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from app.domain.budgets.records import PositionRecord
from app.domain.filestore import (
    LegacyAuditResult,
    LegacyProject,
    project_document,
    read_project,
    stable_uuid,
    write_project,
)
from app.domain.filestore import writer as writer_module
from tests.fixtures.legacy_store import write_json


def documents(project: LegacyProject, project_dir: Path) -> list[tuple[str, Path]]:
    return [(f.relative_path, project_dir / f.relative_path) for f in project.files]


@pytest.mark.parametrize("kind", ["spec", "old", "uuid", "empty"])
def test_read_write_read_is_equal(store: dict[str, Path], tmp_path: Path, kind: str) -> None:
    first = read_project(store[kind])
    rebuilt = write_project(tmp_path / "rebuilt", first, documents(first, store[kind]))
    assert rebuilt == tmp_path / "rebuilt" / store[kind].name
    second = read_project(rebuilt)
    assert second == first

    # The written form is a fixed point: writing it again gives byte-identical JSON files.
    again = write_project(tmp_path / "again", second, documents(second, rebuilt))
    for name in ("project.json", "positions.json", "audit_results.json"):
        assert (again / name).read_bytes() == (rebuilt / name).read_bytes()


def test_round_trip_in_place_over_the_old_files(store: dict[str, Path]) -> None:
    """Dual-write over a migrated directory: the old JSON is replaced, nothing is lost."""
    project_dir = store["old"]
    first = read_project(project_dir)
    write_project(project_dir.parent, first, documents(first, project_dir))
    assert read_project(project_dir) == first


def test_round_trip_keeps_a_directory_that_differs_from_the_id(data_dir: Path, tmp_path: Path) -> None:
    write_json(data_dir / "folder_a" / "project.json", {"project_id": "proj_a", "project_name": "A"})
    first = read_project(data_dir / "folder_a")
    rebuilt = write_project(tmp_path / "out", first)
    assert rebuilt.name == "folder_a"
    assert read_project(rebuilt) == first


def test_a_project_born_in_postgresql_round_trips(tmp_path: Path) -> None:
    project_id = uuid.uuid4()
    project = LegacyProject(
        id=project_id,
        legacy_id=str(project_id),
        name="Nový projekt – Brno",
        workflow="workflow_b",
        status="auditing",
        owner_id=str(uuid.uuid4()),
        owner_email="eva@example.cz",
        created_at=datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        updated_at=datetime(2025, 3, 2, 8, 30, 15, 123456, tzinfo=UTC),
        metadata={"source": "web", "limits": {"max_positions": 5000, "ratio": 0.25}},
        positions=[
            PositionRecord(
                description="Beton C30/37 XF4",
                code="273313611",
                unit="m3",
                quantity=Decimal("12.500"),
                unit_price=Decimal("3150.00"),
                total_price=Decimal("39375.00"),
                measurements=["12,5"],
                source_line=17,
                metadata={"enrichment": {"match": "273313611", "score": 1.0}},
            )
        ],
        audit_results=[
            LegacyAuditResult(
                position_ref="1",
                expert="concrete",
                status="RED",
                confidence=0.9,
                reasoning="XF4 vyžaduje provzdušnění.",
                evidence={"exposure": ["XF4"]},
                issues=[{"type": "air", "severity": "high", "description": "chybí", "suggestion": "≥ 4 %"}],
                raw={"note": "generated"},
            )
        ],
    )
    document = tmp_path / "blob.pdf"
    document.write_bytes(b"%PDF-1.7 drawing")
    written = write_project(tmp_path / "store", project, [("raw/vykresy/Řez A–A.pdf", document)])
    assert written.name == str(project_id)

    back = read_project(written)
    assert back.files[0].relative_path == "raw/vykresy/Řez A–A.pdf"
    assert back.files[0].file_type == "vykresy"
    assert msgspec.structs.replace(back, files=[]) == project
    assert back.created_at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_written_json_is_utf8_with_decimal_strings_and_utc(store: dict[str, Path], tmp_path: Path) -> None:
    project = read_project(store["spec"])
    rebuilt = write_project(tmp_path / "out", project)
    text = (rebuilt / "project.json").read_text(encoding="utf-8")
    assert "Most přes Labe – SO 201" in text  # not \u-escaped
    head = msgspec.json.decode(text)  # what the old application wrote, key for key
    assert head["id"] == "proj_5f1c2a9e0b7d" and "legacy_id" not in head and "legacy_fields" not in head
    assert head["updated_at"] == "2024-02-11T16:45:12.250000+01:00"
    assert head["tags"] == ["most", "beton"]  # its other keys kept at the top level
    own = msgspec.json.decode((rebuilt / "concrete_agent.json").read_bytes())["project"]  # our exact copy
    assert (own["id"], own["legacy_id"]) == (str(project.id), "proj_5f1c2a9e0b7d")
    assert own["updated_at"] == "2024-02-11T15:45:12.250000Z"
    positions = msgspec.json.decode((rebuilt / "positions.json").read_bytes())
    assert positions["schema"] == "concrete-agent/positions@1"
    assert positions["positions"][1]["quantity"] == "1234.56"
    audit = msgspec.json.decode((rebuilt / "audit_results.json").read_bytes())
    assert isinstance(audit, list)  # the old app's own shape, readable after a rollback
    assert audit[1]["raw"]["confidence"] == "85 %"
    assert [p.name for p in rebuilt.iterdir()] != []
    assert not [p for p in rebuilt.rglob("*.tmp")]


def test_unchanged_documents_are_not_copied_again(
    store: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = read_project(store["old"])
    files = documents(project, store["old"])
    write_project(tmp_path / "out", project, files)
    copied: list[Path] = []
    original = writer_module.atomic_copy_file

    def counting_copy(source: Path, target: Path) -> None:
        copied.append(target)
        original(source, target)

    monkeypatch.setattr(writer_module, "atomic_copy_file", counting_copy)
    write_project(tmp_path / "out", project, files)
    assert copied == []
    (store["old"] / "notes.md").write_text("# změněno\n")
    write_project(tmp_path / "out", project, files)
    assert [p.name for p in copied] == ["notes.md"]


def _project(**changes: object) -> LegacyProject:
    base = LegacyProject(id=stable_uuid("project", "p1"), legacy_id="p1", name="P")
    return msgspec.structs.replace(base, **changes)


@pytest.mark.parametrize(
    ("project", "message"),
    [
        (_project(id=uuid.uuid4()), "does not derive from legacy id"),
        (_project(metadata={"name": "clash"}), "would overwrite project.json's own keys"),
        (_project(created_at=datetime(2024, 1, 1)), "naive datetime"),
        (
            _project(legacy_id="../x", id=stable_uuid("project", "../x")),
            "unusable project directory name",
        ),
    ],
)
def test_writer_refuses_what_would_not_read_back(tmp_path: Path, project: LegacyProject, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_project(tmp_path, project)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "relative", ["", "../x.pdf", "/etc/passwd", "raw/../../x", "raw//x", "project.json", ".lock", "raw/./a"]
)
def test_writer_refuses_document_paths_outside_the_project(tmp_path: Path, relative: str) -> None:
    source = tmp_path / "src.pdf"
    source.write_bytes(b"x")
    with pytest.raises(ValueError, match="document path"):
        write_project(tmp_path / "out", _project(), [(relative, source)])
    assert not (tmp_path / "out").exists()


def test_project_document_puts_canonical_keys_first() -> None:
    document = project_document(_project(metadata={"zzz": 1, "files": []}))
    assert list(document)[:3] == ["id", "legacy_id", "name"]
    assert list(document)[-2:] == ["zzz", "files"]
