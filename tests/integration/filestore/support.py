"""Helpers of the file-store integration tests: the test environment and row dumps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from app.config import Settings
from app.domain.filestore.migrate import asyncpg_dsn
from tests.fixtures.legacy_store import write_file, write_json

TABLES = ("users", "projects", "budget_versions", "positions", "audit_results", "project_documents")


@dataclass
class FileStoreEnv:
    settings: Settings
    data_dir: Path
    storage_dir: Path
    database_url: str

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.database_url)


async def fetch(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {table: int(await conn.fetchval(f"SELECT count(*) FROM {table}")) for table in TABLES}
    finally:
        await conn.close()


async def canonical_dump(dsn: str) -> dict[str, list[Any]]:
    """Every row of the migrated tables as JSON, in id order, without what depends on the run
    (users' timestamps, projects.metadata.migration apart from the directory)."""
    conn = await asyncpg.connect(dsn)
    try:
        dump: dict[str, list[Any]] = {}
        for table in TABLES:
            rows = await conn.fetch(f"SELECT to_jsonb(t)::text AS row FROM {table} t ORDER BY id")
            items = [msgspec.json.decode(r["row"]) for r in rows]
            for item in items:
                if table == "users":
                    item.pop("created_at")
                    item.pop("updated_at")
                if table == "projects":
                    migration = item["metadata"].get("migration") or {}
                    item["metadata"]["migration"] = {"directory": migration.get("directory")}
            dump[table] = items
        return dump
    finally:
        await conn.close()


def tricky_project(data_dir: Path, project_id: str = "proj_tricky00001") -> Path:
    """Rounding, an unknown position, a repeated verdict, an expert-less verdict, an owner by UUID."""
    project_dir = data_dir / project_id
    write_json(
        project_dir / "project.json",
        {"id": project_id, "name": "Zaokrouhlení", "owner_id": "not-a-user", "created_at": "2024-05-01T10:00:00Z"},
    )
    write_json(
        project_dir / "positions.json",
        [
            {"id": "a", "kod": "1", "popis": "Beton", "mj": "m3", "mnozstvi": "1,23456", "jednotkova_cena": "10,005"},
            {"id": "b", "kod": "2", "popis": "Výztuž", "mj": "t", "mnozstvi": 2, "jednotkova_cena": "0,125"},
            {"id": "a", "kod": "3", "popis": "Stejné id jako první", "mj": "kus"},
        ],
    )
    write_json(
        project_dir / "audit_results.json",
        [
            {"position_id": "b", "expert": "cost", "status": "RED", "confidence": 0.5},
            {"position_id": "b", "expert": "cost", "status": "GREEN", "confidence": 0.9},
            {"position_id": "zzz", "expert": "cost", "status": "RED"},
            {"position_id": "b", "status": "AMBER"},
        ],
    )
    write_file(project_dir / "raw" / "dokumentace" / "čeština ěščřžýáíé.txt", "ahoj\n")
    write_file(project_dir / "raw" / "dokumentace" / "kopie.txt", "ahoj\n")  # same bytes: one blob
    return project_dir
