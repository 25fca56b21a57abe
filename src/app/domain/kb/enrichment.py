"""Enrichment: match every position of a project's latest budget version to the reference catalogue.

The rules are ``kb.matching`` (exact code 1.0; concrete class + exposure 0.95; class + unit 0.75; fuzzy
description with the same unit → the pg_trgm similarity; else none). The catalogue comes from
PostgreSQL through the knowledge-base cache in batches: the budget's codes and the concrete items in
one look-up each, and the fuzzy candidates of all descriptions that need them in batches of
FUZZY_BATCH (searched in the process's trigram index of the catalogue, ``kb.services.FuzzyIndex``).
``{match, score, evidence, candidates}`` is written to
``positions.enrichment`` with one UPDATE ... FROM unnest(...) that skips rows whose value is already the
same, so a rerun writes nothing. Enrichment annotates the current version in place: it does not make a
new budget version.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import BudgetVersion
from app.domain.audits.experts import AuditPosition
from app.domain.budgets.queries import latest_version, version_positions
from app.domain.budgets.rows import own_rows, rows_now
from app.domain.kb.matching import EnrichmentMatch, match_positions
from app.domain.kb.reference import CatalogItem
from app.domain.kb.services import KnowledgeBase
from app.domain.kb.units import normalize_unit
from app.domain.projects.stages import ProgressCallback, report_nothing

FUZZY_BATCH = 500

_MATCHES = "unnest(CAST(:ids AS uuid[]), CAST(:enrichments AS text[])) AS v(id, enrichment)"
_WRITE_ENRICHMENT = text(
    f"""
    UPDATE positions AS p SET enrichment = CAST(v.enrichment AS jsonb)
    FROM {_MATCHES}
    WHERE p.id = v.id AND p.enrichment IS DISTINCT FROM CAST(v.enrichment AS jsonb)
    """
)
# Rows whose match changes (they are made the version's own before they are written).
_CHANGING = text(
    f"""
    SELECT p.id FROM positions AS p JOIN {_MATCHES} ON p.id = v.id
    WHERE p.enrichment IS DISTINCT FROM CAST(v.enrichment AS jsonb)
    """
)


class EnrichmentOutcome(msgspec.Struct, kw_only=True):
    """What one enrichment run did (also the job's result)."""

    project_id: uuid.UUID
    version: int | None
    positions: int
    updated: int
    by_rule: dict[str, int]
    fuzzy_lookups: int


class EnrichmentService:
    """Matches a project's latest positions to the catalogue and stores the match on each position."""

    def __init__(self, session: AsyncSession, knowledge: KnowledgeBase) -> None:
        self.session = session
        self.knowledge = knowledge

    async def enrich(self, project_id: uuid.UUID, *, progress: ProgressCallback = report_nothing) -> EnrichmentOutcome:
        """Enrich in the caller's transaction (the job's); the caller commits."""
        _, version = await latest_version(self.session, project_id)
        if version is None:
            return EnrichmentOutcome(
                project_id=project_id, version=None, positions=0, updated=0, by_rule={}, fuzzy_lookups=0
            )
        rows = await version_positions(self.session, version.id)
        positions = [AuditPosition.from_row(row) for row in rows]
        await progress(0.05, f"Matching {len(positions)} positions to the catalogue", current_step="catalogue")
        catalog = await self.knowledge.enrichment_catalog(positions)

        wanted: dict[tuple[str, str], tuple[str, str | None]] = {}

        def note_fuzzy_request(description: str, unit: str | None) -> list[tuple[CatalogItem, float]]:
            wanted[(description, normalize_unit(unit))] = (description, unit)
            return []

        matches = match_positions(positions, catalog, note_fuzzy_request)
        fuzzy_indexes = [i for i, match in enumerate(matches) if match.evidence.get("rule") == "none"]
        requests = list(wanted.values())
        found: dict[tuple[str, str], list[tuple[CatalogItem, float]]] = {}
        for start in range(0, len(requests), FUZZY_BATCH):
            batch = requests[start : start + FUZZY_BATCH]
            await progress(
                0.1 + 0.7 * start / max(len(requests), 1),
                f"Fuzzy catalogue search {start + 1}–{start + len(batch)} of {len(requests)}",
                current_step="fuzzy",
            )
            found.update(await self.knowledge.fuzzy_candidates(batch))

        def fuzzy_from_batch(description: str, unit: str | None) -> list[tuple[CatalogItem, float]]:
            return found.get((description, normalize_unit(unit)), [])

        if fuzzy_indexes:
            rematched = match_positions([positions[i] for i in fuzzy_indexes], catalog, fuzzy_from_batch)
            for index, match in zip(fuzzy_indexes, rematched, strict=True):
                matches[index] = match

        await progress(0.85, "Storing matches", current_step="store")
        updated = await write_enrichment(self.session, [row["id"] for row in rows], matches, version=version)
        return EnrichmentOutcome(
            project_id=project_id,
            version=version.version,
            positions=len(rows),
            updated=updated,
            by_rule=dict(sorted(Counter(str(m.evidence.get("rule", "none")) for m in matches).items())),
            fuzzy_lookups=len(requests),
        )


async def write_enrichment(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    matches: Sequence[EnrichmentMatch],
    *,
    version: BudgetVersion | None = None,
) -> int:
    """One UPDATE for all positions; rows that already hold the same match are left alone. With the
    version the rows were read from, rows it shares with other versions are made its own first."""
    if not ids:
        return 0
    encoded = [msgspec.json.encode(match).decode() for match in matches]
    params = {"ids": list(ids), "enrichments": encoded}
    if version is not None:
        # Under the project lock, on the rows the version has now (an audit may have moved their ids).
        now = await rows_now(session, version, ids)
        params["ids"] = [now[position_id] for position_id in ids]
        await own_rows(session, version, list((await session.scalars(_CHANGING, params)).all()))
    result = await session.execute(_WRITE_ENRICHMENT, params)
    return int(getattr(result, "rowcount", 0) or 0)
