"""Uploaded documents: streamed to disk, typed by content, de-duplicated per project, parsed by a job.

An upload never holds the file in memory: the multipart part (spooled by Litestar) is read in
chunks into a temporary file inside STORAGE_DIR while it is hashed (SHA-256) and counted; it is
stopped with 413 past UPLOAD_MAX_BYTES. Only a complete, typed, unique file is renamed into place,
under the project's row lock, in the transaction that records it (and its parse job). A failed
upload leaves neither a file nor a row.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import select

from app.config import Settings
from app.db.models import BackgroundJob, Project, ProjectDocument
from app.domain.accounts.sessions import SessionUser
from app.domain.documents.file_types import FileType, UnknownFileType, sniff_file
from app.domain.documents.schemas import DocumentRead
from app.domain.projects.services import can_see, lock_project, project_storage_dir
from app.lib.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType, field_error
from app.lib.pagination import Page
from app.lib.services import RepositoryService

CHUNK_BYTES = 1024 * 1024
MAX_FILENAME = 255
MAX_ORIGINAL_FILENAME = 500  # project_documents.original_filename


@dataclass
class ReceivedFile:
    """A complete upload in a temporary file, with what was learnt while writing it."""

    path: Path
    size: int
    sha256: str
    file_type: FileType


def document_not_found() -> NotFound:
    return NotFound("The document does not exist.")


def clean_filename(filename: str | None) -> str:
    """The name to show: no directories, no control characters, bounded length."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "upload"
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_FILENAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:MAX_FILENAME]
    return name


def sent_filename(filename: str | None) -> str | None:
    """The name as the client sent it (path included), minus what PostgreSQL cannot store, bounded."""
    name = "".join(ch for ch in (filename or "") if ch.isprintable())[:MAX_ORIGINAL_FILENAME]
    return name or None


def upload_tmp_dir(settings: Settings) -> Path:
    """Temporary files live inside STORAGE_DIR so that the final rename stays on one file system."""
    return Path(settings.STORAGE_DIR).resolve() / "tmp"


async def receive_upload(
    read: Callable[[int], Awaitable[bytes]], filename: str | None, settings: Settings
) -> ReceivedFile:
    """Copy an upload to a temporary file chunk by chunk; check size, emptiness and type."""
    tmp_dir = upload_tmp_dir(settings)
    await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
    path = tmp_dir / f"upload-{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            while chunk := await read(CHUNK_BYTES):
                size += len(chunk)
                if size > settings.UPLOAD_MAX_BYTES:
                    raise PayloadTooLarge(
                        f"The file is larger than the limit of {settings.UPLOAD_MAX_BYTES} bytes.",
                        errors=[field_error("file", f"must be at most {settings.UPLOAD_MAX_BYTES} bytes")],
                    )
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        if size == 0:
            raise InvalidInput("The file is empty.", errors=[field_error("file", "is empty")])
        try:
            file_type = await asyncio.to_thread(sniff_file, path, filename)
        except UnknownFileType as exc:
            raise UnsupportedMediaType(
                f"The file type is not supported: {exc}.",
                errors=[field_error("file", "must be UNIXML/XC4 XML, xlsx, xls, CSV, PDF or plain text")],
            ) from exc
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return ReceivedFile(path=path, size=size, sha256=digest.hexdigest(), file_type=file_type)


class DocumentService(RepositoryService[ProjectDocument]):
    """Documents of projects; only owners (and administrators) see them."""

    class Repository(SQLAlchemyAsyncRepository[ProjectDocument]):
        model_type = ProjectDocument

    repository_type = Repository

    async def get_for(self, actor: SessionUser, document_id: uuid.UUID) -> ProjectDocument:
        """The document if its project is visible to the actor (one query with the owner)."""
        statement = (
            select(ProjectDocument, Project.owner_id)
            .join(Project, Project.id == ProjectDocument.project_id)
            .where(ProjectDocument.id == document_id)
        )
        row = (await self.db_session.execute(statement)).one_or_none()
        if row is None or not can_see(actor, row[1]):
            raise document_not_found()
        document: ProjectDocument = row[0]
        return document

    async def list_in_project(self, project_id: uuid.UUID, limit_offset: LimitOffset) -> Page[DocumentRead]:
        rows, total = await self.get_many_and_count(
            limit_offset,
            project_id=project_id,
            order_by=[(ProjectDocument.created_at, True), (ProjectDocument.id, True)],
        )
        return Page(
            items=[DocumentRead.from_model(row) for row in rows],
            total=total,
            limit=limit_offset.limit,
            offset=limit_offset.offset,
        )

    async def store_upload(
        self,
        actor: SessionUser,
        project_id: uuid.UUID,
        received: ReceivedFile,
        filename: str | None,
        *,
        settings: Settings,
    ) -> tuple[ProjectDocument, BackgroundJob]:
        """Record the received file and queue its parse job, or remove it: no half-stored upload."""
        from app.domain.jobs.services import submit_job

        session = self.db_session
        final_path: Path | None = None
        document_id = uuid.uuid4()
        try:
            project = await lock_project(session, actor, project_id)
            duplicate = (
                await session.execute(
                    select(ProjectDocument.id, ProjectDocument.filename).where(
                        ProjectDocument.project_id == project.id,
                        ProjectDocument.content_hash == received.sha256,
                    )
                )
            ).first()
            if duplicate is not None:
                raise Conflict(
                    f"The same file is already in this project as '{duplicate.filename}' (document {duplicate.id}).",
                    errors=[field_error("file", "has the same content as an existing document")],
                    extra={"existing_document_id": str(duplicate.id)},
                )
            directory = project_storage_dir(settings, project.id)
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
            final_path = directory / f"{document_id}{received.file_type.extension}"
            document = ProjectDocument(
                id=document_id,
                project_id=project.id,
                uploaded_by=actor.id,
                filename=clean_filename(filename),
                original_filename=sent_filename(filename),
                file_type=received.file_type.file_type,
                mime_type=received.file_type.mime_type,
                file_size=received.size,
                content_hash=received.sha256,
                storage_path=str(final_path),
                parse_status="pending",
                metadata_=dict(received.file_type.details),
            )
            session.add(document)
            await session.flush()
            await asyncio.to_thread(os.replace, received.path, final_path)
            job = await submit_job(
                session,
                job_type="parse_document",
                project_id=project.id,
                user_id=actor.id,
                payload={"document_id": str(document_id)},
                settings=settings,
            )
        except BaseException:
            await asyncio.to_thread(received.path.unlink, missing_ok=True)
            if final_path is not None and not await self._is_recorded(document_id):
                await asyncio.to_thread(final_path.unlink, missing_ok=True)
            raise
        return document, job

    async def _is_recorded(self, document_id: uuid.UUID) -> bool:
        """Whether the row was committed (a failure after the commit must keep the file).

        When the database cannot tell, the file is kept: an orphan file is harmless, a row whose
        file is gone is not.
        """
        try:
            await self.db_session.rollback()
            found = await self.db_session.scalar(select(ProjectDocument.id).where(ProjectDocument.id == document_id))
        except Exception:
            return True
        return found is not None
