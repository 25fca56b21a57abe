"""Request and response bodies of the chat API."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from app.db.models import ChatMessage
from app.domain.chat.answers import MentionedPosition

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
    # On the assistant's answers: the question answered, what was read, how sure the reading of the
    # question was (0–100), the version and filters used, what a command did, and the positions named.
    question_id: uuid.UUID | None = None
    answer_source: str | None = None
    answer_confidence: Decimal | None = None
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    actions: list[dict[str, Any]] = msgspec.field(default_factory=list)
    positions: list[MentionedPosition] = msgspec.field(default_factory=list)

    @classmethod
    def from_model(cls, message: ChatMessage) -> ChatMessageRead:
        metadata = dict(message.metadata_ or {})
        return cls(
            id=message.id,
            project_id=message.project_id,
            user_id=message.user_id,
            role=message.role,
            message=message.message,
            message_type=message.message_type,
            position_ids=list(message.position_ids or []),
            document_ids=list(message.document_ids or []),
            metadata=metadata,
            created_at=message.created_at,
            question_id=message.question_id,
            answer_source=message.answer_source,
            answer_confidence=message.answer_confidence,
            context=dict(message.context or {}),
            actions=list(message.actions or []),
            positions=msgspec.convert(metadata.get("positions") or [], list[MentionedPosition], strict=False),
        )


class ChatExchange(msgspec.Struct, kw_only=True):
    """201 answer of POST: the stored message and the assistant's stored answer."""

    message: ChatMessageRead
    assistant: ChatMessageRead | None = None
