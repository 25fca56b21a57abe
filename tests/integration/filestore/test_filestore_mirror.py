"""Dual-write: PostgreSQL writes mirrored into the file store; failures recorded; files_only reads."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import unicodedata
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings
from app.db.models import AuditResult, BudgetVersion, Position, Project, ProjectDocument, User
from app.domain.filestore import mirror, read_project, stable_uuid
from app.domain.filestore.file_reads import (
    Viewer,
    get_project_from_files,
    list_positions_from_files,
    list_projects_from_files,
)
from app.domain.filestore.legacy_document import raw_folder
from app.domain.filestore.migrate import migrate_store
from app.domain.filestore.plugin import FileStorePlugin
from app.domain.filestore.verify import verify_store
from app.domain.projects.services import lock_project
from app.lib.redis import create_redis
from app.lib.unit_of_work import CommitContext, after_commit
from tests.fixtures.legacy_store import sample_store
from tests.integration.filestore.support import FileStoreEnv
from tests.support.job_runs import RecordedEvents

SPEC = "proj_5f1c2a9e0b7d"


@pytest.fixture
def dual(fs: FileStoreEnv) -> Settings:
    store = sample_store(fs.data_dir)
    shutil.rmtree(store["broken"])
    return msgspec.structs.replace(fs.settings, MIGRATION_MODE="dual_write")


@pytest.fixture
async def sessions(fs: FileStoreEnv) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(fs.database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def store_blob(storage_dir: Path, project_id: uuid.UUID, data: bytes) -> tuple[str, str]:
    """An upload as the documents service stores it: STORAGE_DIR/projects/{id}/{uuid}.pdf, absolute."""
    digest = hashlib.sha256(data).hexdigest()
    path = storage_dir / "projects" / str(project_id) / f"{uuid.uuid4()}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path.resolve()), digest


async def born_in_postgresql(fs: FileStoreEnv, sessions: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    """A project created through the new app: a version, a position, a verdict and an upload."""
    async with sessions() as session:
        owner = User(email="eva@example.cz", password_hash="x", status="active")
        session.add(owner)
        await session.flush()
        project = Project(owner_id=owner.id, name="Nový projekt – Brno", workflow="workflow_b", metadata_={"web": 1})
        session.add(project)
        await session.flush()
        version = BudgetVersion(project_id=project.id, version=1, trigger_type="initial")
        session.add(version)
        await session.flush()
        position = Position(
            project_id=project.id,
            version_id=version.id,
            description="Beton C30/37 XF4",
            code="273313611",
            unit="m3",
            quantity=Decimal("12.5"),
            unit_price=Decimal("3150"),
            total_price=Decimal("39375.00"),
            source="uploaded",
            metadata_={"object_code": "SO 01"},
        )
        session.add(position)
        await session.flush()
        session.add(
            AuditResult(
                project_id=project.id,
                version_id=version.id,
                position_id=position.id,
                expert_role="concrete",
                status="RED",
                confidence=Decimal("90"),
                reasoning="XF4 vyžaduje provzdušnění.",
                issues=[{"type": "air", "description": "chybí"}],
            )
        )
        data = b"%PDF-1.7 drawing"
        storage_path, digest = await asyncio.to_thread(store_blob, fs.storage_dir, project.id, data)
        session.add(
            ProjectDocument(
                project_id=project.id,
                filename="Řez A–A.pdf",
                file_type="vykresy",
                file_size=len(data),
                content_hash=digest,
                storage_path=storage_path,
            )
        )
        await session.commit()
        return project.id


async def test_writes_in_postgresql_reach_the_files(
    fs: FileStoreEnv, dual: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await migrate_store(dual, fs.data_dir)
    spec_id = stable_uuid("project", SPEC)
    async with sessions() as session:
        await session.execute(update(Project).where(Project.id == spec_id).values(name="Most přes Labe – změna"))
        await session.commit()
        assert await mirror.mirror_project(session, spec_id, settings=dual)  # the request's session
    born_id = await born_in_postgresql(fs, sessions)
    assert await mirror.mirror_project(sessions, born_id, settings=dual)  # or a session factory

    spec = read_project(fs.data_dir / SPEC)
    assert spec.name == "Most přes Labe – změna" and spec.metadata["tags"] == ["most", "beton"]
    born = read_project(fs.data_dir / str(born_id))
    assert (born.name, born.workflow, born.owner_email) == ("Nový projekt – Brno", "workflow_b", "eva@example.cz")
    assert born.positions[0].quantity == Decimal("12.5000") and born.positions[0].object_code == "SO 01"
    assert [(a.expert, a.status, a.confidence) for a in born.audit_results] == [("concrete", "RED", 0.9)]
    assert [(f.relative_path, f.size) for f in born.files] == [("raw/vykresy/Řez A–A.pdf", 16)]

    verified = await verify_store(dual, fs.data_dir)
    assert verified.ok, verified.human()
    assert verified.projects_equal == 5


async def test_a_failed_mirror_is_recorded_and_shown_by_verify(
    fs: FileStoreEnv, dual: Settings, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate_store(dual, fs.data_dir)
    born_id = await born_in_postgresql(fs, sessions)
    monkeypatch.setattr(mirror, "MIRROR_BACKOFF_SECONDS", (0.0, 0.0))
    calls: list[uuid.UUID] = []

    def broken_disk(*args: object, **kwargs: object) -> int:
        calls.append(born_id)
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(mirror, "write_stored_project", broken_disk)
        assert not await mirror.mirror_project(sessions, born_id, settings=dual)
    assert len(calls) == mirror.MIRROR_ATTEMPTS
    failures = await mirror.mirror_failures(dual)
    assert failures == [str(born_id)]
    verified = await verify_store(dual, fs.data_dir, mirror_failures=failures)
    assert sorted(p for d in verified.differences for p in d.problems) == [
        "born in PostgreSQL and missing in the files (dual_write)",
        "the dual-write mirror failed for this project (see the logs)",
    ]

    assert await mirror.mirror_project(sessions, born_id, settings=dual)  # the next write heals it
    assert await mirror.mirror_failures(dual) == []
    assert (await verify_store(dual, fs.data_dir)).ok


async def test_concurrent_mirrors_leave_the_newest_state(
    fs: FileStoreEnv, dual: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await migrate_store(dual, fs.data_dir)
    spec_id = stable_uuid("project", SPEC)
    for number in range(3):
        async with sessions() as session:
            await session.execute(update(Project).where(Project.id == spec_id).values(name=f"Verze {number}"))
            await session.commit()
    results = await asyncio.gather(*(mirror.mirror_project(sessions, spec_id, settings=dual) for _ in range(4)))
    assert all(results)
    assert read_project(fs.data_dir / SPEC).name == "Verze 2"


async def test_a_deleted_project_moves_out_of_the_store(fs: FileStoreEnv, dual: Settings) -> None:
    await migrate_store(dual, fs.data_dir)
    old_id = stable_uuid("project", "proj_0a56b78a847d")
    moved = await mirror.mirror_deleted_project(old_id, {"legacy_id": "proj_0a56b78a847d"}, settings=dual)
    assert moved is not None and moved.parent.name == mirror.DELETED_FOLDER
    assert not (fs.data_dir / "proj_0a56b78a847d").exists() and (moved / "project.json").is_file()
    assert (await verify_store(dual, fs.data_dir)).differences[0].problems == [
        "in PostgreSQL only: its directory is not in the store"
    ]


async def test_mirror_does_nothing_in_postgres_only_mode(fs: FileStoreEnv, dual: Settings) -> None:
    postgres_only = msgspec.structs.replace(dual, MIGRATION_MODE="postgres_only")
    assert await mirror.mirror_project(None, uuid.uuid4(), settings=postgres_only)  # type: ignore[arg-type]


async def test_files_only_reads(fs: FileStoreEnv, dual: Settings) -> None:
    admin = Viewer(user_id=None, email=None, is_admin=True)
    projects, total = await list_projects_from_files(dual, admin)
    assert total == 4 and projects[0].legacy_id == SPEC  # newest first
    petr = Viewer(user_id=uuid.uuid4(), email="Petr@Example.cz")
    own, own_total = await list_projects_from_files(dual, petr)
    assert own_total == 1 and own[0].legacy_id == "proj_0a56b78a847d"
    old_id = stable_uuid("project", "proj_0a56b78a847d")
    positions = await list_positions_from_files(dual, petr, old_id)
    assert positions is not None and [p.code for p in positions] == ["273313611", "Pol31", "998"]
    assert await get_project_from_files(dual, petr, stable_uuid("project", SPEC)) is None
    found = await get_project_from_files(dual, admin, uuid.UUID("9C5B94B1-35AD-49BB-B118-8E8FC24ABF80"))
    assert found is not None and found.name == "UUID projekt"


async def test_a_job_mirrors_once_its_transaction_committed(
    fs: FileStoreEnv, dual: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await migrate_store(dual, fs.data_dir)
    spec_id = stable_uuid("project", SPEC)
    FileStorePlugin(dual).install()
    redis = create_redis(dual)
    async with sessions() as session:
        bind = session.bind
        assert isinstance(bind, AsyncEngine)
        context = CommitContext(settings=dual, redis=redis, events=RecordedEvents(), bind=bind)
        await lock_project(session, None, spec_id)  # a job's write: the lock records the change
        await session.execute(update(Project).where(Project.id == spec_id).values(status="auditing"))
        await session.rollback()  # a rolled-back transaction mirrors nothing
        await after_commit(session, context)
        assert read_project(fs.data_dir / SPEC).status == "completed"
        await lock_project(session, None, spec_id)
        await session.execute(update(Project).where(Project.id == spec_id).values(status="auditing"))
        await session.commit()  # what the job runner does, then it runs the after-commit work
        assert read_project(fs.data_dir / SPEC).status == "completed"
        await after_commit(session, context)
    await redis.aclose()
    assert read_project(fs.data_dir / SPEC).status == "auditing"


OLD = "proj_0a56b78a847d"


def old_app_reads(data_dir: Path, directory: str) -> dict[str, Any]:
    """project.json as the old application reads it (DOMAIN.md: project_id, project_name, workflow "A",
    files[] whose file_type names the raw/ sub-folder holding the file)."""
    doc = json.loads((data_dir / directory / "project.json").read_text(encoding="utf-8"))
    for entry in doc["files"]:
        folder = data_dir / directory / "raw" / entry["file_type"]
        names = {unicodedata.normalize("NFC", path.name) for path in folder.rglob("*")}  # old uploads may be NFD
        assert unicodedata.normalize("NFC", entry["filename"]) in names, entry
    return doc


async def test_the_mirror_writes_the_old_applications_shape(
    fs: FileStoreEnv, dual: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    original = json.loads((fs.data_dir / OLD / "project.json").read_text(encoding="utf-8"))
    await migrate_store(dual, fs.data_dir)
    old_id = stable_uuid("project", OLD)
    async with sessions() as session:  # a PATCH of the name of a migrated project
        await session.execute(update(Project).where(Project.id == old_id).values(name="Bytový dům Kolín II"))
        await session.commit()
    assert await mirror.mirror_project(sessions, old_id, settings=dual)
    born_id = await born_in_postgresql(fs, sessions)
    assert await mirror.mirror_project(sessions, born_id, settings=dual)

    patched = old_app_reads(fs.data_dir, OLD)
    assert isinstance(patched["updated_at"], int) and patched["updated_at"] > original["updated_at"]  # its style
    expected = {**original, "project_name": "Bytový dům Kolín II", "updated_at": patched["updated_at"]}
    assert patched == expected  # every other key as the old app wrote it
    born = old_app_reads(fs.data_dir, str(born_id))
    assert set(born) == {
        "project_id",
        "project_name",
        "workflow",
        "status",
        "user",
        "created_at",
        "updated_at",
        "files",
    }
    assert (born["project_id"], born["project_name"], born["workflow"]) == (str(born_id), "Nový projekt – Brno", "B")
    assert born["user"]["email"] == "eva@example.cz" and born["created_at"] is not None
    assert [(f["filename"], f["file_type"], f["size"]) for f in born["files"]] == [("Řez A–A.pdf", "vykresy", 16)]
    assert (fs.data_dir / str(born_id) / "concrete_agent.json").is_file()  # our own data, beside it

    # Reading back gives the same projects (verify), and a project.json the old app edited wins.
    verified = await verify_store(dual, fs.data_dir)
    assert verified.ok, verified.human()
    born["project_name"] = "Upraveno starou aplikací"
    (fs.data_dir / str(born_id) / "project.json").write_text(json.dumps(born, ensure_ascii=False), encoding="utf-8")
    assert read_project(fs.data_dir / str(born_id)).name == "Upraveno starou aplikací"


@pytest.mark.parametrize(
    ("file_type", "folder"),
    [
        ("xlsx", "vykaz_vymer"),
        ("xml", "vykaz_vymer"),
        ("csv", "vykaz_vymer"),
        ("pdf", "vykresy"),
        ("txt", "dokumentace"),
    ],
)
def test_uploads_go_to_the_old_applications_folders(file_type: str, folder: str) -> None:
    assert raw_folder(file_type) == folder
