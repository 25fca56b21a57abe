"""Running a job handler in the test process, the way the worker's runner does, for service-level tests.

The handler gets ONE transaction that ends by marking the row completed (with its result and
artifact); after the commit its after-commit callbacks run. Progress calls and events are recorded
instead of sent. Owners, projects and stored documents are written straight to the database so the
tests depend on no other domain's endpoints.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings
from app.db.models import BackgroundJob, Project, ProjectDocument, User, utc_now
from app.domain.jobs.context import JobContext
from app.domain.jobs.registry import JobHandler
from app.lib.redis import create_redis
from app.lib.unit_of_work import after_commit

MIME_BY_EXTENSION = {
    ".xml": ("xml", "application/xml"),
    ".xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".csv": ("csv", "text/csv"),
    ".pdf": ("pdf", "application/pdf"),
    ".txt": ("txt", "text/plain"),
}


@dataclass
class RecordedProgress:
    """Stands in for ProgressReporter: remembers every call."""

    calls: list[tuple[float, str, str | None]] = field(default_factory=list)

    async def __call__(
        self, fraction: float, message: str = "", *, current_step: str | None = None, total_steps: int | None = None
    ) -> None:
        self.calls.append((fraction, message, current_step))

    async def flush_event(self) -> None:
        return None


@dataclass
class RecordedEvents:
    published: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def publish(self, channel: str, event_type: str, data: Mapping[str, Any]) -> None:
        self.published.append((channel, event_type, dict(data)))


@dataclass
class JobRun:
    row: BackgroundJob
    result: dict[str, Any]
    progress: RecordedProgress
    events: RecordedEvents
    artifact_path: str | None


@dataclass
class Harness:
    """A database engine and a Redis client on the test servers, plus builders of rows and files."""

    settings: Settings
    engine: AsyncEngine
    redis: Redis
    sessions: async_sessionmaker[AsyncSession]

    async def owner(self) -> User:
        user = User(email=f"owner-{uuid.uuid4().hex[:10]}@example.cz", password_hash="x", status="active")
        async with self.sessions() as session, session.begin():
            session.add(user)
        return user

    async def project(self, owner: User | None = None, *, workflow: str = "workflow_a", name: str = "") -> Project:
        owner = owner or await self.owner()
        project = Project(owner_id=owner.id, name=name or f"Stavba {uuid.uuid4().hex[:6]}", workflow=workflow)
        async with self.sessions() as session, session.begin():
            session.add(project)
        return project

    async def document(self, project: Project, data: bytes, filename: str) -> ProjectDocument:
        """A stored upload: the file under STORAGE_DIR and its row, as the documents service records it."""
        file_type, mime_type = MIME_BY_EXTENSION.get(Path(filename).suffix.lower(), ("txt", "text/plain"))
        document_id = uuid.uuid4()
        path = await asyncio.to_thread(self._store_file, project.id, document_id, Path(filename).suffix, data)
        document = ProjectDocument(
            id=document_id,
            project_id=project.id,
            uploaded_by=project.owner_id,
            filename=filename,
            file_type=file_type,
            mime_type=mime_type,
            file_size=len(data),
            content_hash=hashlib.sha256(data).hexdigest(),
            storage_path=str(path),
            parse_status="pending",
        )
        async with self.sessions() as session, session.begin():
            session.add(document)
        return document

    def _store_file(self, project_id: uuid.UUID, document_id: uuid.UUID, suffix: str, data: bytes) -> Path:
        directory = Path(self.settings.STORAGE_DIR).resolve() / "projects" / str(project_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{document_id}{suffix.lower()}"
        path.write_bytes(data)
        return path

    async def run(
        self,
        handler: JobHandler,
        *,
        job_type: str,
        project: Project,
        payload: dict[str, Any] | None = None,
        attempt: int = 1,
    ) -> JobRun:
        """Record a job row and run `handler` like the runner: one transaction, then after-commit steps."""
        row = BackgroundJob(
            id=uuid.uuid4(),
            project_id=project.id,
            user_id=project.owner_id,
            job_type=job_type,
            status="running",
            payload=payload or {},
            started_at=utc_now(),
        )
        async with self.sessions() as session, session.begin():
            session.add(row)
        progress, events = RecordedProgress(), RecordedEvents()
        async with self.sessions() as session, session.begin():
            ctx = JobContext(
                job_id=row.id,
                session=session,
                settings=self.settings,
                redis=self.redis,
                events=events,
                attempt=attempt,
            )
            result = await handler(ctx, row, progress) or {}  # type: ignore[arg-type]
            await session.execute(
                update(BackgroundJob)
                .where(BackgroundJob.id == row.id)
                .values(
                    status="completed",
                    result_data=msgspec.to_builtins(result),
                    artifact_path=ctx.artifact_path,
                    completed_at=utc_now(),
                )
            )
        await after_commit(session, ctx.commit_context())
        return JobRun(row=row, result=result, progress=progress, events=events, artifact_path=ctx.artifact_path)

    async def fetch(self, statement: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.execute(statement)).all())

    async def scalars(self, statement: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.scalars(statement)).all())


def harness_settings(settings: Settings, storage_dir: Path, **overrides: Any) -> Settings:
    return msgspec.structs.replace(settings, STORAGE_DIR=str(storage_dir), **overrides)


@pytest.fixture
async def harness(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    # Follow-up jobs are enqueued under a namespace no worker of this run listens to.
    test_settings = harness_settings(
        settings, tmp_path / "storage", REDIS_NAMESPACE=f"{settings.REDIS_NAMESPACE}-inline"
    )
    engine = create_async_engine(test_settings.database_url, pool_size=5)
    redis = create_redis(test_settings)
    try:
        yield Harness(
            settings=test_settings,
            engine=engine,
            redis=redis,
            sessions=async_sessionmaker(engine, expire_on_commit=False),
        )
    finally:
        await redis.aclose()
        await engine.dispose()
