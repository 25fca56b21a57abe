"""Bodies of the audit API: ``GET /api/projects/{id}/audit`` and ``POST /api/projects/{id}/audit``."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import msgspec

from app.lib.schemas import ModelView


class IssueRead(msgspec.Struct, kw_only=True):
    type: str
    severity: str
    description: str
    suggestion: str | None = None


class VerdictRead(ModelView, kw_only=True):
    """One expert's (or the orchestrator's) verdict on one position.

    ``conflicts_with`` are the ids of the other experts' verdicts on the same position that this one
    disagrees with; ``conflicting_roles`` names them (and "enrichment" when the catalogue match differs).
    """

    id: uuid.UUID
    expert_role: str
    status: str
    confidence: Decimal
    reasoning: str | None
    evidence: dict[str, Any]
    issues: list[IssueRead]
    suggestions: list[str]
    conflicts_with: list[uuid.UUID]
    conflicting_roles: list[str]
    resolution: str | None
    needs_review: bool
    claims: dict[str, str]
    resolved: bool = False  # an estimator resolved this finding (POST …/audit/findings/{id}/resolution)


class PositionAuditRead(msgspec.Struct, kw_only=True):
    """A position of the audited version with the orchestrator's verdict and every expert's."""

    position_id: uuid.UUID
    lineage_id: uuid.UUID
    position_number: str | None
    code: str | None
    description: str
    unit: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    total_price: Decimal | None
    status: str
    confidence: Decimal
    needs_review: bool
    verdict: VerdictRead
    experts: list[VerdictRead]


class AuditSummary(msgspec.Struct, kw_only=True):
    """Counts of the orchestrator's verdicts, and what is said about the budget as a whole.

    ``priced`` is False for an unpriced (tender) budget; ``findings`` then says so, once, instead of
    every position being flagged for its missing price.
    """

    positions: int
    red: int  # open: RED verdicts nobody resolved
    amber: int
    green: int
    needs_review: int
    priced: bool | None = None
    findings: list[IssueRead] = msgspec.field(default_factory=list)
    resolved_red: int = 0  # beside them: the RED / AMBER verdicts an estimator resolved
    resolved_amber: int = 0


class AuditReport(msgspec.Struct, kw_only=True):
    """The latest version's audit, one item per position (paginated by position)."""

    project_id: uuid.UUID
    version: int | None
    version_id: uuid.UUID | None
    audited_at: datetime.datetime | None
    summary: AuditSummary
    items: list[PositionAuditRead]
    total: int
    limit: int
    offset: int


class AuditRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Optional body of ``POST /api/projects/{id}/audit``: which exposure table the concrete expert applies.

    ``CSN_P_73_2404`` (the Czech national minimums, default) or ``EN_206_F1`` (EN 206's recommendations);
    a project can also name one in ``metadata.exposure_table``.
    """

    exposure_table: str | None = None
