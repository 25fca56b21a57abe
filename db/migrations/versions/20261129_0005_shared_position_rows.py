"""Positions are shared by a range of versions: an edit writes what changed, not a copy of the budget.

A row belongs to the versions `valid_from <= version < valid_to` of its project (`valid_to` is
2147483647 while the row is in the latest version). `version_id` stays the version that wrote the row.
Copying every position into each new version cost ~17 µs a row (nine index entries and three foreign-key
checks each: 34 ms of EXPLAIN ANALYZE for 2,000 rows); an edit now closes the changed rows and inserts
their new state.

Existing rows each belong to their own version only, so the back-fill is exact: `[version, version + 1)`,
and open (`[version, ∞)`) in the project's current version. Rows inserted without a range (the file-store
import, hand-written SQL) get `valid_from` from their version and stay open,
while the project's rows of earlier versions end there (such a version is written whole, as before).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 19:45:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = 2_147_483_647

# Every column of positions but id and version_id (what the downgrade copies into each version).
_COLUMNS = (
    "project_id, lineage_id, position_number, code, description, category, unit, quantity, unit_price, "
    "total_price, status, confidence, source, source_document_id, source_line, enrichment, metadata, notes, "
    "created_at, updated_at"
)

_SOURCE_COLUMNS = ", ".join(f"p.{name.strip()}" for name in _COLUMNS.split(","))


def upgrade() -> None:
    op.add_column("positions", sa.Column("valid_from", sa.Integer(), nullable=True))
    op.add_column("positions", sa.Column("valid_to", sa.Integer(), server_default=sa.text(str(OPEN)), nullable=False))
    # Closing or back-filling a range is not an edit of the position: updated_at stays.
    op.execute("DROP TRIGGER IF EXISTS trg_positions_updated_at ON positions")
    op.execute(
        f"""
        UPDATE positions AS p
        SET valid_from = v.version,
            valid_to = CASE WHEN v.version = pr.current_version THEN {OPEN} ELSE v.version + 1 END
        FROM budget_versions AS v JOIN projects AS pr ON pr.id = v.project_id
        WHERE v.id = p.version_id
        """
    )
    op.alter_column("positions", "valid_from", nullable=False)
    op.create_check_constraint(op.f("ck_positions_ck_positions_validity"), "positions", "valid_from < valid_to")
    # A version's rows: (project_id, valid_to > n, valid_from <= n); a lineage's row: (lineage_id, valid_to).
    op.create_index("ix_positions_project_validity", "positions", ["project_id", "valid_to", "valid_from"])
    op.create_index("ix_positions_lineage_validity", "positions", ["lineage_id", "valid_to"])
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION positions_fill_valid_from() RETURNS trigger AS $$
        BEGIN
            -- A row written without a range (file-store import, plain SQL) is written the way versions
            -- were before they shared rows: its version is complete, so the row starts there, and the
            -- project's rows of earlier versions that were still open end there.
            NEW.valid_from = (SELECT version FROM budget_versions WHERE id = NEW.version_id);
            UPDATE positions SET valid_to = NEW.valid_from
            WHERE project_id = NEW.project_id AND valid_to = {OPEN} AND valid_from < NEW.valid_from;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER trg_positions_valid_from BEFORE INSERT ON positions "
        "FOR EACH ROW WHEN (NEW.valid_from IS NULL) EXECUTE FUNCTION positions_fill_valid_from()"
    )
    op.execute(
        "CREATE TRIGGER trg_positions_updated_at BEFORE UPDATE ON positions FOR EACH ROW "
        "WHEN (OLD.valid_from = NEW.valid_from AND OLD.valid_to = NEW.valid_to) EXECUTE FUNCTION set_updated_at()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_positions_updated_at ON positions")
    op.execute("DROP TRIGGER IF EXISTS trg_positions_valid_from ON positions")
    op.execute("DROP FUNCTION IF EXISTS positions_fill_valid_from()")
    # Every version gets its own copy of each row it shares; a verdict follows the copy of its version.
    op.execute(
        """
        CREATE TEMPORARY TABLE position_copies ON COMMIT DROP AS
        SELECT p.id AS old_id, gen_random_uuid() AS new_id, v.id AS version_id
        FROM positions AS p
        JOIN projects AS pr ON pr.id = p.project_id
        JOIN budget_versions AS v ON v.project_id = p.project_id
             AND v.version > p.valid_from AND v.version < least(p.valid_to, pr.current_version + 1)
        """
    )
    op.execute(
        f"""
        INSERT INTO positions (id, version_id, valid_from, valid_to, {_COLUMNS})
        SELECT c.new_id, c.version_id, p.valid_from, p.valid_to, {_SOURCE_COLUMNS}
        FROM position_copies AS c JOIN positions AS p ON p.id = c.old_id
        """
    )
    op.execute(
        """
        UPDATE audit_results AS a SET position_id = c.new_id
        FROM position_copies AS c
        WHERE a.position_id = c.old_id AND a.version_id = c.version_id
        """
    )
    op.execute("DROP TABLE position_copies")
    op.drop_index("ix_positions_lineage_validity", table_name="positions")
    op.drop_index("ix_positions_project_validity", table_name="positions")
    op.drop_constraint(op.f("ck_positions_ck_positions_validity"), "positions", type_="check")
    op.drop_column("positions", "valid_to")
    op.drop_column("positions", "valid_from")
    op.execute(
        "CREATE TRIGGER trg_positions_updated_at BEFORE UPDATE ON positions "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
