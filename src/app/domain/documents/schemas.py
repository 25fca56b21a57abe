"""Request and response bodies of the documents API."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.datastructures import UploadFile

from app.db.models import ProjectDocument
from app.domain.jobs.schemas import JobRead


@dataclass
class DocumentUpload:
    """The multipart form: one file in the field `file`."""

    file: UploadFile


class DocumentRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    project_id: uuid.UUID
    uploaded_by: uuid.UUID | None
    filename: str
    file_type: str
    mime_type: str | None
    file_size: int
    content_hash: str
    parse_status: str
    parse_error: str | None
    parsed_at: datetime.datetime | None
    metadata: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def from_model(cls, document: ProjectDocument) -> DocumentRead:
        return cls(
            id=document.id,
            project_id=document.project_id,
            uploaded_by=document.uploaded_by,
            filename=document.filename,
            file_type=document.file_type,
            mime_type=document.mime_type,
            file_size=document.file_size,
            content_hash=document.content_hash,
            parse_status=document.parse_status,
            parse_error=document.parse_error,
            parsed_at=document.parsed_at,
            metadata=dict(document.metadata_ or {}),
            created_at=document.created_at,
            updated_at=document.updated_at,
        )


class DocumentUploaded(msgspec.Struct, kw_only=True):
    """201 answer of an upload: the stored document and the parse job queued for it."""

    document: DocumentRead
    job: JobRead
