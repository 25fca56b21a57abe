"""Positions: a lineage's rows end at different versions (unique (lineage_id, valid_to)).

A position's rows cover disjoint ranges of versions (revision 0005), so no two of them end at the same
version; in particular a lineage has one open row (`valid_to` 2147483647) at most, and a version made
by an edit that forgot to end the old row, or a split that kept both halves open, is refused instead of
listing the position twice. The index replaces the non-unique one on the same columns: no entry more per
row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 20:25:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("uq_positions_lineage_valid_to", "positions", ["lineage_id", "valid_to"], unique=True)
    op.drop_index("ix_positions_lineage_validity", table_name="positions")


def downgrade() -> None:
    op.create_index("ix_positions_lineage_validity", "positions", ["lineage_id", "valid_to"])
    op.drop_index("uq_positions_lineage_valid_to", table_name="positions")
