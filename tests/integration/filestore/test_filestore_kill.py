"""SIGKILL in the middle of `python -m app migrate-files`, then a re-run: the same rows as one clean run."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from app.domain.filestore.migrate import migrate_store
from app.domain.filestore.verify import verify_store
from tests.fixtures.legacy_store import build_store, sample_store
from tests.integration.filestore.support import FileStoreEnv, canonical_dump

ROOT = Path(__file__).resolve().parents[3]
PROJECTS = 150


def _migrate_command(fs: FileStoreEnv) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "DATABASE_URL": fs.database_url,
        "STORAGE_DIR": str(fs.storage_dir),
        "DATA_DIR": str(fs.data_dir),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "app", "migrate-files", str(fs.data_dir), "--no-progress", "--batch-size", "3"]
    return command, env


async def _committed(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM projects WHERE metadata ? 'migration'"))


@pytest.mark.slow
async def test_sigkill_mid_run_then_rerun_equals_one_clean_run(fs: FileStoreEnv) -> None:
    build_store(fs.data_dir, PROJECTS, 40, 3, seed=7)
    sample_store(fs.data_dir)  # the odd cases too (its broken project fails in every run)
    command, env = _migrate_command(fs)
    conn = await asyncpg.connect(fs.dsn)
    try:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 120
            seen = 0
            while seen < 10:  # poll the database until some batches have committed
                assert process.returncode is None, "migrate-files ended before the kill"
                assert time.monotonic() < deadline, "no project committed in time"
                seen = await _committed(conn)
                await asyncio.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(process.wait(), 30) == -signal.SIGKILL
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        committed = await _committed(conn)
        assert 10 <= committed < PROJECTS + 4, "the kill must land mid-run"
    finally:
        await conn.close()

    rerun = await migrate_store(fs.settings, fs.data_dir)
    assert rerun.projects_unchanged == committed
    assert rerun.projects_migrated == PROJECTS + 4 - committed
    assert [s.directory for s in rerun.skipped] == ["proj_broken00001"]
    after_kill = await canonical_dump(fs.dsn)
    verified = await verify_store(fs.settings, fs.data_dir)
    assert [d.directory for d in verified.differences] == ["proj_broken00001"]

    conn = await asyncpg.connect(fs.dsn)
    try:
        await conn.execute("TRUNCATE users, projects CASCADE")
    finally:
        await conn.close()
    shutil.rmtree(fs.storage_dir)
    clean = await migrate_store(fs.settings, fs.data_dir)
    assert clean.projects_migrated == PROJECTS + 4
    assert await canonical_dump(fs.dsn) == after_kill


def test_the_command_reports_and_exits_non_zero_on_a_broken_project(fs: FileStoreEnv, tmp_path: Path) -> None:
    """The real command line: JSON report, human summary, exit status; then --verify."""
    sample_store(fs.data_dir)
    command, env = _migrate_command(fs)
    report_file = tmp_path / "report.json"
    done = subprocess.run(
        [*command, "--report", str(report_file)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "proj_broken00001: positions.json is not valid JSON" in done.stderr
    report = json.loads(report_file.read_text())
    assert report["projects_migrated"] == 4 and report["ok"] is False
    shutil.rmtree(fs.data_dir / "proj_broken00001")
    verified = subprocess.run([*command, "--verify"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stderr
    assert "OK: no difference" in verified.stderr
