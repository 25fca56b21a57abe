"""The body of POST /api/projects/{id}/generate (it becomes the job's payload); every field optional."""

from __future__ import annotations

from decimal import Decimal

import msgspec


class GenerateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Ratios that override the defaults for some element kinds (see app.domain.generation.materials):
    `{"formwork_m2_per_m3": {"wall": 6.5}, "reinforcement_kg_per_m3": {"ceiling_slab": 120}}`."""

    formwork_m2_per_m3: dict[str, Decimal] = msgspec.field(default_factory=dict)
    reinforcement_kg_per_m3: dict[str, Decimal] = msgspec.field(default_factory=dict)
