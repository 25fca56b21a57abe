"""Request and response bodies of the chat API."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from app.domain.chat.answers import MentionedPosition
from app.lib.schemas import ModelView

MessageText = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
MessageType = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z_]{0,49}$")]
ReferencedIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)]


class ChatMessageCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    message: MessageText
    message_type: MessageType = "text"
    position_ids: ReferencedIds = msgspec.field(default_factory=list)
    document_ids: ReferencedIds = msgspec.field(default_factory=list)


class ChatMessageRead(ModelView, kw_only=True):
    id: uuid.UUID
    project_id: uuid.UUID
    user_id: uuid.UUID | None
    role: str
    message: str
    message_type: str
    position_ids: list[uuid.UUID]
    document_ids: list[uuid.UUID]
    metadata_: dict[str, Any] = msgspec.field(name="metadata")
    created_at: datetime.datetime
    # On the assistant's answers: the question answered, what was read, how sure the reading of the
    # question was (0–100), the version and filters used, what a command did, and the positions named.
    question_id: uuid.UUID | None = None
    answer_source: str | None = None
    answer_confidence: Decimal | None = None
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    actions: list[dict[str, Any]] = msgspec.field(default_factory=list)
    positions: list[MentionedPosition] = msgspec.field(default_factory=list)


class ChatExchange(msgspec.Struct, kw_only=True):
    """201 answer of POST: the stored message and the assistant's stored answer."""

    message: ChatMessageRead
    assistant: ChatMessageRead | None = None
