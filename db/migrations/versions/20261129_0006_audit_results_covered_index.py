"""Audit results: drop the single-column position_id index that the unique (position_id, expert_role) covers.

An audit writes six rows per position (a 2,000-position budget: 12,000 rows in one COPY), and each
index is one more entry per row. `uq_audit_results_position_expert` leads with position_id, so the
look-ups by position (the report's experts, the foreign key's cascade) keep an index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_audit_results_position_id", table_name="audit_results")


def downgrade() -> None:
    op.create_index("ix_audit_results_position_id", "audit_results", ["position_id"])
