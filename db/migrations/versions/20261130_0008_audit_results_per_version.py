"""Audit results: one verdict per expert per position row AND per audited version.

Since revision 0005 versions share their unchanged position rows. With one verdict per expert per row,
an audit of version 2 replaced version 1's verdicts on every row the two share (when the verdict stayed
the same, nothing split the row): version 1's audit, read later, had lost them or showed version 2's.
Keyed by version too, each audit keeps its own verdicts and an audit writes no more rows than before.
A verdict without a version (hand-written SQL) stays unique per row and expert (NULLS NOT DISTINCT).

The downgrade gives each audited version of a shared row a row of its own again, starting at that
version (the way `budgets.rows.own_rows` splits a row), and moves that version's verdicts onto it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column of positions but id, version_id, the range and updated_at (what a split copies).
_CONTENT = (
    "project_id, lineage_id, position_number, code, description, category, unit, quantity, unit_price, "
    "total_price, status, confidence, source, source_document_id, source_line, enrichment, metadata, notes, "
    "created_at"
)
_FROM_ROW = ", ".join(f"p.{name.strip()}" for name in _CONTENT.split(","))


def upgrade() -> None:
    op.create_index(
        "uq_audit_results_position_version_expert",
        "audit_results",
        ["position_id", "version_id", "expert_role"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.drop_index("uq_audit_results_position_expert", table_name="audit_results")


def downgrade() -> None:
    # Per row carrying verdicts of several versions: piece 1 (the row itself, its first part) keeps the
    # first audited version's verdicts, piece k (a copy from the k-th audited version on) the k-th's.
    op.execute(
        """
        CREATE TEMPORARY TABLE verdict_pieces ON COMMIT DROP AS
        WITH audited AS (
            SELECT DISTINCT a.position_id, coalesce(v.version, p.valid_from) AS version
            FROM audit_results AS a
            JOIN positions AS p ON p.id = a.position_id
            LEFT JOIN budget_versions AS v ON v.id = a.version_id
        ), numbered AS (
            SELECT position_id, version, row_number() OVER w AS piece, lead(version) OVER w AS next_version
            FROM audited WINDOW w AS (PARTITION BY position_id ORDER BY version)
        )
        SELECT n.position_id AS old_id, n.piece, n.version,
               CASE WHEN n.piece = 1 THEN n.position_id ELSE gen_random_uuid() END AS new_id,
               CASE WHEN n.piece = 1 THEN p.valid_from ELSE n.version END AS valid_from,
               coalesce(n.next_version, p.valid_to) AS valid_to,
               bv.id AS version_id
        FROM numbered AS n
        JOIN positions AS p ON p.id = n.position_id
        LEFT JOIN budget_versions AS bv ON bv.project_id = p.project_id AND bv.version = n.version
        WHERE n.position_id IN (SELECT position_id FROM numbered WHERE piece = 2)
        """
    )
    op.execute(
        """
        UPDATE positions AS p SET valid_to = c.valid_to
        FROM verdict_pieces AS c WHERE c.old_id = p.id AND c.piece = 1
        """
    )
    op.execute(
        f"""
        INSERT INTO positions (id, version_id, valid_from, valid_to, {_CONTENT}, updated_at)
        SELECT c.new_id, c.version_id, c.valid_from, c.valid_to, {_FROM_ROW}, now()
        FROM verdict_pieces AS c JOIN positions AS p ON p.id = c.old_id
        WHERE c.piece > 1
        """
    )
    op.execute(
        """
        UPDATE audit_results AS a SET position_id = c.new_id
        FROM verdict_pieces AS c, budget_versions AS v
        WHERE a.position_id = c.old_id AND c.piece > 1 AND v.id = a.version_id AND v.version = c.version
        """
    )
    op.execute("DROP TABLE verdict_pieces")
    op.create_index("uq_audit_results_position_expert", "audit_results", ["position_id", "expert_role"], unique=True)
    op.drop_index("uq_audit_results_position_version_expert", table_name="audit_results")
