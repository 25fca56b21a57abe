"""`export-files`: PostgreSQL back to an old-style store that reads back equal, and migrates back equal."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.domain.filestore import commands, read_project, scan_store
from app.domain.filestore.export import export_store
from app.domain.filestore.migrate import migrate_store
from app.domain.filestore.verify import verify_store
from tests.fixtures.legacy_store import sample_store
from tests.integration.filestore.support import FileStoreEnv, canonical_dump, tricky_project


@pytest.fixture
def store(fs: FileStoreEnv) -> dict[str, Path]:
    found = sample_store(fs.data_dir)
    shutil.rmtree(found.pop("broken"))
    found["tricky"] = tricky_project(fs.data_dir)
    return found


async def test_export_reads_back_equal_and_migrates_back_to_the_same_rows(
    fs: FileStoreEnv, store: dict[str, Path], tmp_path: Path
) -> None:
    await migrate_store(fs.settings, fs.data_dir)
    migrated = await canonical_dump(fs.dsn)

    exported_dir = tmp_path / "exported" / "projects"
    report = await export_store(fs.settings, exported_dir)
    assert report.ok and report.projects == 5 and report.documents == 12
    assert sorted(d.name for d in scan_store(exported_dir)) == sorted(d.name for d in store.values())
    for original in store.values():
        assert read_project(exported_dir / original.name) == read_project(original), original.name
        for path in original.rglob("*"):
            if path.is_file() and path.name not in {"project.json", "positions.json", "audit_results.json"}:
                copy = exported_dir / original.name / path.relative_to(original)
                assert copy.read_bytes() == path.read_bytes()
                assert copy.stat().st_mtime_ns // 1000 == path.stat().st_mtime_ns // 1000

    again = await migrate_store(fs.settings, exported_dir)
    assert again.projects_migrated == 5 and again.ok
    assert await canonical_dump(fs.dsn) == migrated
    assert (await verify_store(fs.settings, exported_dir)).ok

    # exporting again over the exported store copies no document again
    second = await export_store(fs.settings, exported_dir)
    assert second.ok and second.bytes_copied == 0


def test_export_files_command(
    fs: FileStoreEnv, store: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    asyncio.run(migrate_store(fs.settings, fs.data_dir))
    monkeypatch.setattr(commands, "get_settings", lambda: fs.settings)
    target = tmp_path / "rollback"
    result = CliRunner().invoke(
        commands.export_files_command, [str(target), "--no-progress", "--report", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    assert "exported to" in result.output and (tmp_path / "r.json").is_file()
    assert sorted(os.listdir(target)) == sorted(d.name for d in store.values())
