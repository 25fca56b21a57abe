"""Positions: drop the single-column project_id and version_id indexes that composite ones already cover.

Every budget version writes all its positions, and each index is one more entry per row:
`(project_id, status)` and `(project_id, category)` lead with project_id, `uq_positions_version_lineage`
`(version_id, lineage_id)` leads with version_id, so look-ups (and the foreign keys' cascades) by either
column keep an index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:35:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_positions_project_id", table_name="positions")
    op.drop_index("ix_positions_version_id", table_name="positions")


def downgrade() -> None:
    op.create_index("ix_positions_version_id", "positions", ["version_id"])
    op.create_index("ix_positions_project_id", "positions", ["project_id"])
