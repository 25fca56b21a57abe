"""Users and the outbox that delivers their e-mails."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, CreatedAt, Timestamps

USER_ROLES = ("user", "pro", "business", "enterprise", "admin")
USER_STATUSES = ("pending", "active", "suspended")


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Case-insensitive uniqueness: emails are stored normalised, the index guards raw writes too.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
        # The spec's lookup, `WHERE email = :email`: emails are stored normalised (trimmed, lower-case),
        # so it finds what the case-insensitive unique index guards.
        Index("ix_users_email", "email"),
        Index("ix_users_status", "status"),
        Index("ix_users_role", "role"),
        CheckConstraint(f"role IN {USER_ROLES}", name="ck_users_role"),
        CheckConstraint(f"status IN {USER_STATUSES}", name="ck_users_status"),
    )

    email: Mapped[str] = mapped_column(String(255), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(50), nullable=False, default="user", server_default="user")
    status: Mapped[str] = mapped_column(String(50), nullable=False, default="pending", server_default="pending")
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    verification_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_login_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )


class OutboxMessage(CreatedAt, Base):
    """E-mails waiting for delivery. Nothing in this service sends them yet: a local user reads the
    verification token here (or in the log with DEBUG=true)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),)

    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    recipient: Mapped[str] = mapped_column(String(255), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    # No FK on purpose: the outbox outlives a deleted account until the message is sent.
    user_id: Mapped[uuid.UUID | None] = mapped_column(PG_UUID(as_uuid=True))
    sent_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True))
