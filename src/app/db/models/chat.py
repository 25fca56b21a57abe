"""Chat messages about a project."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, CreatedAt

CHAT_ROLES = ("user", "assistant", "system")


class ChatMessage(CreatedAt, Base):
    __tablename__ = "chat_history"
    __table_args__ = (
        Index("ix_chat_history_project_created", "project_id", text("created_at DESC")),
        Index("ix_chat_history_user_id", "user_id"),
        Index("ix_chat_history_question_id", "question_id"),
        CheckConstraint(f"role IN {CHAT_ROLES}", name="ck_chat_history_role"),
        CheckConstraint(
            "answer_confidence IS NULL OR (answer_confidence >= 0 AND answer_confidence <= 100)",
            name="ck_chat_history_answer_confidence",
        ),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(50), nullable=False, default="user", server_default="user")
    message: Mapped[str] = mapped_column(Text, nullable=False)
    message_type: Mapped[str] = mapped_column(String(50), nullable=False, default="text", server_default="text")
    position_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(PG_UUID(as_uuid=True)), nullable=False, default=list, server_default=text("'{}'::uuid[]")
    )
    document_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(PG_UUID(as_uuid=True)), nullable=False, default=list, server_default=text("'{}'::uuid[]")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    # What the answer was built from (positions, documents, versions looked at).
    context: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    # On an assistant's answer: the user's message it answers.
    question_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("chat_history.id", ondelete="SET NULL"))
    answer_confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    answer_source: Mapped[str | None] = mapped_column(String(100))
    # Commands the answer carried out or proposes (e.g. a position edit and the version it made).
    actions: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb"))

    @property
    def positions(self) -> list[dict[str, Any]]:
        """The positions an answer names, kept in `metadata`."""
        return list((self.metadata_ or {}).get("positions") or [])
