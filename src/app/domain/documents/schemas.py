"""Request and response bodies of the documents API."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.datastructures import UploadFile

from app.domain.jobs.schemas import JobRead
from app.lib.schemas import ModelView


@dataclass
class DocumentUpload:
    """The multipart form: one file in the field `file`."""

    file: UploadFile


class DocumentRead(ModelView, kw_only=True):
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
    metadata_: dict[str, Any] = msgspec.field(name="metadata")
    created_at: datetime.datetime
    updated_at: datetime.datetime


class DocumentUploaded(msgspec.Struct, kw_only=True):
    """201 answer of an upload: the stored document and the parse job queued for it."""

    document: DocumentRead
    job: JobRead
