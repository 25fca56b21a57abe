"""Declarative base and the columns every table shares.

Ids and timestamps have both a Python default (so the ORM knows them before flush) and a server
default (so rows written by COPY, raw SQL or another service are complete too).
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.base import DefaultBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Base(DefaultBase):
    """Abstract base of every model: a database-or-app generated UUID key."""

    __abstract__ = True

    id: Mapped[uuid.UUID] = mapped_column(
        PG_UUID(as_uuid=True),
        primary_key=True,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
        sort_order=-100,
    )


class CreatedAt:
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True),
        default=utc_now,
        server_default=text("now()"),
        nullable=False,
        sort_order=3002,
    )


class Timestamps(CreatedAt):
    """created_at / updated_at; a trigger (see the first migration) also bumps updated_at on raw UPDATEs."""

    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True),
        default=utc_now,
        onupdate=utc_now,
        server_default=text("now()"),
        nullable=False,
        sort_order=3003,
    )
