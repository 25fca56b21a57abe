"""Knowledge base: the look-up cache and the reference catalogue it answers from."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Date, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models._base import Base, CreatedAt, Timestamps, utc_now


class KBCache(CreatedAt, Base):
    __tablename__ = "kb_cache"
    __table_args__ = (
        Index("ix_kb_cache_query_type", "query_type"),
        Index("ix_kb_cache_expires_at", "expires_at"),
    )

    query_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    query_type: Mapped[str] = mapped_column(String(50), nullable=False)
    query_text: Mapped[str] = mapped_column(Text, nullable=False)
    result: Mapped[Any] = mapped_column(JSONB, nullable=False)
    sources: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb"))
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False)
    access_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    last_accessed_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=utc_now, server_default=text("now()")
    )


class CatalogItem(Timestamps, Base):
    """A reference catalogue item (OTSKP, ÚRS, RTS ...) with its unit and reference price."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        UniqueConstraint("catalog", "code", "valid_from", name="uq_catalog_items_catalog_code_valid_from"),
        Index("ix_catalog_items_code", "code"),
        Index(
            "ix_catalog_items_description_trgm",
            "description",
            postgresql_using="gin",
            postgresql_ops={"description": "gin_trgm_ops"},
        ),
    )

    catalog: Mapped[str] = mapped_column(String(50), nullable=False)
    code: Mapped[str] = mapped_column(String(50), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    unit: Mapped[str | None] = mapped_column(String(20))
    reference_price: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    valid_from: Mapped[datetime.date] = mapped_column(Date, nullable=False, server_default=text("CURRENT_DATE"))
    dataset_version: Mapped[str] = mapped_column(
        String(50), nullable=False, default="shipped", server_default="shipped"
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )


class ReferenceSet(Timestamps, Base):
    """Versioned reference tables kept whole (exposure classes, price bands)."""

    __tablename__ = "reference_sets"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_reference_sets_kind_version"),)

    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    version: Mapped[str] = mapped_column(String(50), nullable=False)
    data: Mapped[Any] = mapped_column(JSONB, nullable=False)
