"""Request and response bodies of the chat API."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

import msgspec

from app.db.models import ChatMessage

MessageText = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
MessageType = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z_]{0,49}$")]
ReferencedIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)]


class ChatMessageCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    message: MessageText
    message_type: MessageType = "text"
    position_ids: ReferencedIds = msgspec.field(default_factory=list)
    document_ids: ReferencedIds = msgspec.field(default_factory=list)


class ChatMessageRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    project_id: uuid.UUID
    user_id: uuid.UUID | None
    role: str
    message: str
    message_type: str
    position_ids: list[uuid.UUID]
    document_ids: list[uuid.UUID]
    metadata: dict[str, Any]
    created_at: datetime.datetime

    @classmethod
    def from_model(cls, message: ChatMessage) -> ChatMessageRead:
        return cls(
            id=message.id,
            project_id=message.project_id,
            user_id=message.user_id,
            role=message.role,
            message=message.message,
            message_type=message.message_type,
            position_ids=list(message.position_ids or []),
            document_ids=list(message.document_ids or []),
            metadata=dict(message.metadata_ or {}),
            created_at=message.created_at,
        )


class ChatExchange(msgspec.Struct, kw_only=True):
    """201 answer of POST: the stored message and the assistant's answer (null until the assistant exists)."""

    message: ChatMessageRead
    assistant: ChatMessageRead | None = None
