"""From the pure audit's ``PositionAudit`` to ``audit_results`` records (tuples ready for COPY).

Every verdict gets its id before anything is written, so that ``conflicts_with`` (UUID[]) can point at
the rows of the experts a verdict disagrees with on the same position. The role names, the claims and
whether a person should look are kept in ``metadata`` (the enrichment match, a pseudo-role, has no row).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec

from app.domain.audits.experts import PositionAudit, Verdict

AUDIT_RESULT_COLUMNS = (
    "id",
    "project_id",
    "version_id",
    "position_id",
    "expert_role",
    "recommendation",
    "confidence",
    "reasoning",
    "evidence",
    "issues",
    "suggestions",
    "conflicts_with",
    "resolution",
    "metadata",
)
AuditRecord = tuple[
    uuid.UUID,
    uuid.UUID,
    uuid.UUID,
    uuid.UUID,
    str,
    str,
    Decimal,
    str,
    str,
    str,
    str,
    list[uuid.UUID],
    str | None,
    str,
]

_encode = msgspec.json.Encoder(decimal_format="string").encode


def _json(value: Any) -> str:
    return _encode(value).decode()


_EMPTY_LIST = "[]"


def verdict_metadata(verdict: Verdict, job_id: uuid.UUID | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"needs_review": verdict.needs_review}
    if verdict.claims:
        metadata["claims"] = verdict.claims
    if verdict.conflicts_with:
        metadata["conflicting_roles"] = list(verdict.conflicts_with)
    if job_id is not None:
        metadata["job_id"] = str(job_id)
    return metadata


def position_records(
    audit: PositionAudit,
    *,
    position_id: uuid.UUID,
    project_id: uuid.UUID,
    version_id: uuid.UUID,
    job_id: uuid.UUID | None = None,
) -> Iterator[AuditRecord]:
    """One record per expert verdict, then the orchestrator's."""
    verdicts = (*audit.verdicts, audit.final)
    ids = {verdict.expert: uuid.uuid4() for verdict in verdicts}
    for verdict in verdicts:
        yield (
            ids[verdict.expert],
            project_id,
            version_id,
            position_id,
            verdict.expert,
            verdict.status.value,
            verdict.confidence,
            verdict.reasoning,
            _json(verdict.evidence),
            _json(verdict.issues) if verdict.issues else _EMPTY_LIST,
            _json(verdict.suggestions) if verdict.suggestions else _EMPTY_LIST,
            [ids[role] for role in verdict.conflicts_with if role in ids and role != verdict.expert],
            verdict.resolution,
            _json(verdict_metadata(verdict, job_id)),
        )
