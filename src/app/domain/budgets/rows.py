"""Writing in place on a version's position rows (audit verdicts, enrichment) without touching other versions.

PUBLIC for audits and kb enrichment:

    now = await rows_now(session, version, ids)   # under the project lock: ids read earlier → ids now
    await own_rows(session, version, ids)         # before an UPDATE of these rows of `version`

A position row is shared by the versions `valid_from <= n < valid_to` (app.db.models.budgets.Position).
Before a row of version n is written in place, `own_rows` makes it version n's alone: the row keeps
its id (so verdicts and clients that hold it still address version n) and now starts at n, and ends
at n + 1 when a later version exists; copies with new ids take over the versions before (version_id
unchanged) and after (version_id of version n + 1), and the verdicts of audits of those versions move
with them. Only rows shared with other versions are touched, so the usual case (an audit or an
enrichment right after an import) writes nothing here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import BudgetVersion
from app.db.models.budgets import OPEN_VERSION
from app.domain.projects.services import lock_project

# Everything a copy keeps of the row (id, version_id, the range and updated_at are the copy's own).
_CONTENT = (
    "project_id, lineage_id, position_number, code, description, category, unit, quantity, unit_price, "
    "total_price, status, confidence, source, source_document_id, source_line, enrichment, metadata, notes, "
    "created_at"
)
_FROM_ROW = ", ".join(f"p.{name.strip()}" for name in _CONTENT.split(","))

# The shared rows among :ids start at n in version :version_id (and end at :until, when a later version
# exists); the old ranges come back.
_NARROW = text(
    """
    UPDATE positions AS p SET version_id = :version_id, valid_from = :n, valid_to = least(p.valid_to, :until)
    FROM positions AS o
    WHERE o.id = p.id AND p.id = ANY(CAST(:ids AS uuid[])) AND p.valid_from <= :n AND p.valid_to > :n
      AND (o.valid_from < :n OR o.valid_to > :until)
    RETURNING o.id, o.version_id, o.valid_from, o.valid_to
    """
)
_COPY = text(
    f"""
    INSERT INTO positions (id, version_id, valid_from, valid_to, {_CONTENT}, updated_at)
    SELECT c.new_id, c.version_id, c.valid_from, c.valid_to, {_FROM_ROW}, now()
    FROM unnest(CAST(:old_ids AS uuid[]), CAST(:new_ids AS uuid[]), CAST(:version_ids AS uuid[]),
                CAST(:froms AS integer[]), CAST(:tos AS integer[]))
         AS c(old_id, new_id, version_id, valid_from, valid_to)
    JOIN positions AS p ON p.id = c.old_id
    """
)
# Verdicts of audits of the versions a copy took over follow it (the audit of version n keeps the row).
_MOVE_VERDICTS = text(
    """
    UPDATE audit_results AS a SET position_id = c.new_id
    FROM unnest(CAST(:old_ids AS uuid[]), CAST(:new_ids AS uuid[]), CAST(:froms AS integer[]),
                CAST(:tos AS integer[])) AS c(old_id, new_id, valid_from, valid_to),
         budget_versions AS av
    WHERE a.position_id = c.old_id AND av.id = a.version_id
      AND av.version >= c.valid_from AND av.version < c.valid_to
    """
)
# Each row read earlier → its lineage's row in version :n now (`uq_positions_lineage_valid_to`).
_ROWS_NOW = text(
    """
    SELECT o.id, p.id FROM positions AS o
    JOIN positions AS p ON p.lineage_id = o.lineage_id AND p.project_id = o.project_id
         AND p.valid_from <= :n AND p.valid_to > :n
    WHERE o.id = ANY(CAST(:ids AS uuid[]))
    """
)
_NEXT_VERSION = text("SELECT id FROM budget_versions WHERE project_id = :project_id AND version = :n")


async def rows_now(
    session: AsyncSession, version: BudgetVersion, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Lock the project, then map each id of a row read from `version` (before the lock) to the id of
    that position's row in `version` now.

    A version's content never changes, but its row ids can: own_rows of another version sharing a row
    (an audit of a version made meanwhile) keeps the id for that version and gives this one a copy.
    Writing by the ids read would then write on the other version's rows.
    """
    if not ids:
        return {}
    await lock_project(session, None, version.project_id)
    found = await session.execute(_ROWS_NOW, {"ids": list(ids), "n": version.version})
    return {old_id: new_id for old_id, new_id in found.all()}


async def own_rows(session: AsyncSession, version: BudgetVersion, ids: Sequence[uuid.UUID]) -> int:
    """Make these rows of `version` its own before writing on them in place; returns how many were shared.

    Takes the project lock first: a version made meanwhile (not yet committed) would otherwise not be
    seen here, and the write would land on its rows too.
    """
    if not ids:
        return 0
    await lock_project(session, None, version.project_id)
    n = version.version
    next_id = await session.scalar(_NEXT_VERSION, {"project_id": version.project_id, "n": n + 1})
    until = n + 1 if next_id is not None else OPEN_VERSION  # the latest version's rows stay open
    params = {"ids": list(ids), "version_id": version.id, "n": n, "until": until}
    shared = (await session.execute(_NARROW, params)).all()
    if not shared:
        return 0
    copies: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, int]] = []
    for old_id, version_id, valid_from, valid_to in shared:
        if valid_from < n:
            copies.append((old_id, uuid.uuid4(), version_id, valid_from, n))
        if valid_to > until:
            assert next_id is not None
            copies.append((old_id, uuid.uuid4(), next_id, until, valid_to))
    columns = list(zip(*copies, strict=True))
    copied = {
        "old_ids": list(columns[0]),
        "new_ids": list(columns[1]),
        "version_ids": list(columns[2]),
        "froms": list(columns[3]),
        "tos": list(columns[4]),
    }
    await session.execute(_COPY, copied)
    await session.execute(_MOVE_VERDICTS, {key: copied[key] for key in ("old_ids", "new_ids", "froms", "tos")})
    return len(shared)
