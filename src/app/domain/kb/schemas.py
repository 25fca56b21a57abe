"""Bodies of the knowledge-base API (``GET /api/kb/search``) and of the enrichment endpoint."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec

SearchType = Literal["code", "catalog", "price", "standard"]


class KBHit(msgspec.Struct, kw_only=True, omit_defaults=False):
    """One search result: a catalogue item, a price band or a standards rule (``kind`` says which).

    ``score`` is 0–1 (1 = exact); ``details`` holds what is specific to the kind (the price band of an
    item, the minimum class of an exposure class, ...).
    """

    kind: Literal["catalog_item", "price_band", "exposure_class", "strength_class", "standard"]
    title: str
    code: str | None = None
    catalog: str | None = None
    unit: str | None = None
    reference_price: Decimal | None = None
    valid_from: datetime.date | None = None
    score: float = 1.0
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class KBSearchPage(msgspec.Struct, kw_only=True):
    """A page of search results; ``cache`` says which layer answered (redis, postgres, or none: a miss)."""

    items: list[KBHit]
    total: int
    limit: int
    offset: int
    query: str
    type: SearchType
    cache: Literal["redis", "postgres", "miss"]
    expires_at: datetime.datetime


class EnrichRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Optional body of ``POST /api/projects/{id}/enrich``: audit right after (default) or not."""

    then_audit: bool = True
