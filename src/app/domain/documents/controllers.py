"""HTTP face of documents: upload (multipart field `file`), list, metadata, the stored bytes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from advanced_alchemy.extensions.litestar.providers import create_service_dependencies
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, MultipartBody
from litestar.response import File
from litestar.status_codes import HTTP_201_CREATED
from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.documents.schemas import DocumentRead, DocumentUpload, DocumentUploaded
from app.domain.documents.services import DocumentService, document_not_found, receive_upload
from app.domain.jobs.schemas import JobRead
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.domain.projects.services import get_project_state
from app.lib.events import EventPublisher, project_channel
from app.lib.pagination import Page, limit_offset_dependency


def _document_dependencies() -> dict[str, Provide]:
    return {
        **create_service_dependencies(DocumentService, key="documents_service"),
        **limit_offset_dependency(),
    }


class ProjectDocumentController(Controller):
    path = "/api/projects/{project_id:uuid}/documents"
    tags = ["documents"]
    dependencies = _document_dependencies()
    opt = {WRITES_PROJECT_DATA: True}

    @post(status_code=HTTP_201_CREATED, opt={"rate_limit_group": "upload"})
    async def upload_document(
        self,
        project_id: FromPath[uuid.UUID],
        data: MultipartBody[DocumentUpload],
        current_user: NamedDependency[SessionUser],
        documents_service: NamedDependency[DocumentService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        events: NamedDependency[EventPublisher],
    ) -> DocumentUploaded:
        """Upload a budget or document; a `parse_document` job is queued for it.

        400 empty file · 409 the same content is already in the project · 413 too large ·
        415 not UNIXML/XC4 XML, xlsx, xls, CSV, PDF or text."""
        await get_project_state(
            documents_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        upload = data.file
        try:
            received = await receive_upload(upload.read, upload.filename, settings)
        finally:
            await upload.close()
        document, job = await documents_service.store_upload(
            current_user, project_id, received, upload.filename, settings=settings
        )
        await events.publish(
            project_channel(project_id),
            "document_uploaded",
            {
                "project_id": str(project_id),
                "document_id": str(document.id),
                "filename": document.filename,
                "file_type": document.file_type,
                "job_id": str(job.id),
            },
        )
        return DocumentUploaded(document=DocumentRead.from_model(document), job=JobRead.from_model(job))

    @get()
    async def list_documents(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        documents_service: NamedDependency[DocumentService],
        limit_offset: NamedDependency[LimitOffset],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> Page[DocumentRead]:
        """The project's documents, newest first."""
        await get_project_state(
            documents_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        return await documents_service.list_in_project(project_id, limit_offset)


class DocumentController(Controller):
    path = "/api/documents/{document_id:uuid}"
    tags = ["documents"]
    dependencies = _document_dependencies()

    @get()
    async def get_document(
        self,
        document_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        documents_service: NamedDependency[DocumentService],
    ) -> DocumentRead:
        return DocumentRead.from_model(await documents_service.get_for(current_user, document_id))

    @get("/content")
    async def get_document_content(
        self,
        document_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        documents_service: NamedDependency[DocumentService],
    ) -> File:
        """The stored bytes, unchanged (streamed from disk)."""
        document = await documents_service.get_for(current_user, document_id)
        path = Path(document.storage_path)
        if not await asyncio.to_thread(path.is_file):
            raise document_not_found()
        return File(
            path=path,
            filename=document.filename,
            media_type=document.mime_type or "application/octet-stream",
            content_disposition_type="attachment",
        )
