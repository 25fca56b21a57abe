"""Resolving audit findings: finding_resolutions, and the resolved counts beside the project's issue counts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 17:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("issues_resolved_red", "issues_resolved_amber"):
        op.add_column("projects", sa.Column(column, sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.create_table(
        "finding_resolutions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("lineage_id", sa.UUID(), nullable=False),
        sa.Column("expert_role", sa.String(length=50), nullable=False),
        sa.Column("position_id", sa.UUID(), nullable=False),
        sa.Column("audit_result_id", sa.UUID(), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.UUID(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "resolution IN ('accepted_as_is', 'fixed', 'disputed')",
            name=op.f("ck_finding_resolutions_ck_finding_resolutions_resolution"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_finding_resolutions_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
            name=op.f("fk_finding_resolutions_position_id_positions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["audit_result_id"],
            ["audit_results.id"],
            name=op.f("fk_finding_resolutions_audit_result_id_audit_results"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_finding_resolutions_resolved_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_resolutions")),
    )
    op.create_index(
        "uq_finding_resolutions_lineage_expert",
        "finding_resolutions",
        ["project_id", "lineage_id", "expert_role"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_finding_resolutions_lineage_expert", table_name="finding_resolutions")
    op.drop_table("finding_resolutions")
    for column in ("issues_resolved_amber", "issues_resolved_red"):
        op.drop_column("projects", column)
