"""The specification's schema in full: its missing columns, names, lengths and indexes.

Renames keep their data (projects.owner_id → user_id, background_jobs.payload → input_data,
audit_results.status → recommendation, project_analytics.day → date); new columns are back-filled
from what the rows already hold.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 16:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, old length): status, role and kind columns the spec makes VARCHAR(50).
WIDENED_TO_50 = (
    ("users", "role", 20),
    ("users", "status", 20),
    ("projects", "workflow", 20),
    ("projects", "status", 20),
    ("project_documents", "parse_status", 20),
    ("positions", "status", 10),
    ("audit_results", "recommendation", 10),
    ("chat_history", "role", 20),
    ("background_jobs", "queue", 20),
    ("background_jobs", "status", 20),
)
FTS_CONFIGS = ("english", "simple")
RENAMED_COLUMNS = (
    # (table, old, new)
    ("projects", "owner_id", "user_id"),
    ("background_jobs", "payload", "input_data"),
    ("audit_results", "status", "recommendation"),
)
RENAMED_INDEXES = (
    ("ix_projects_owner_id", "ix_projects_user_id"),
    ("ix_projects_owner_created", "ix_projects_user_created"),
    ("ix_audit_results_status", "ix_audit_results_recommendation"),
    ("ix_project_analytics_day", "ix_project_analytics_date"),
)
RENAMED_CONSTRAINTS = (
    ("projects", "fk_projects_owner_id_users", "fk_projects_user_id_users"),
    (
        "audit_results",
        "ck_audit_results_ck_audit_results_status",
        "ck_audit_results_ck_audit_results_recommendation",
    ),
)


def _jsonb(name: str, default: str) -> sa.Column:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text(default), nullable=False)


def upgrade() -> None:
    for table, old, new in RENAMED_COLUMNS:
        op.alter_column(table, old, new_column_name=new)
    for old, new in RENAMED_INDEXES:
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")
    for table, old, new in RENAMED_CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")
    op.execute("ALTER MATERIALIZED VIEW project_analytics RENAME COLUMN day TO date")

    # Widening a VARCHAR is a catalog change in PostgreSQL: no table rewrite, no index rebuild.
    for table, column, _ in WIDENED_TO_50:
        op.alter_column(table, column, type_=sa.String(50))
    op.alter_column("projects", "name", type_=sa.String(500))
    op.alter_column("positions", "code", type_=sa.String(100))

    op.add_column("users", _jsonb("metadata", "'{}'::jsonb"))
    op.create_index("ix_users_email", "users", ["email"])
    op.create_index("ix_positions_category", "positions", ["category"])
    # The spec's full-text expression (a NULL text matches nothing; coalesce only hid the index from it).
    for config in FTS_CONFIGS:
        op.drop_index(f"ix_project_documents_fts_{config}", table_name="project_documents")
        op.create_index(
            f"ix_project_documents_fts_{config}",
            "project_documents",
            [sa.literal_column(f"to_tsvector('{config}', indexed_content)")],
            postgresql_using="gin",
        )

    op.add_column("project_documents", sa.Column("original_filename", sa.String(500), nullable=True))
    op.add_column(
        "project_documents",
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.execute("UPDATE project_documents SET original_filename = filename, uploaded_at = created_at")

    op.add_column("budget_versions", _jsonb("summary", "'{}'::jsonb"))

    op.add_column("audit_results", sa.Column("resolved", sa.Boolean(), server_default=sa.text("false"), nullable=False))

    op.add_column("chat_history", _jsonb("context", "'{}'::jsonb"))
    op.add_column("chat_history", sa.Column("question_id", sa.UUID(), nullable=True))
    op.add_column("chat_history", sa.Column("answer_confidence", sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column("chat_history", sa.Column("answer_source", sa.String(100), nullable=True))
    op.add_column("chat_history", _jsonb("actions", "'[]'::jsonb"))
    op.create_foreign_key(
        op.f("fk_chat_history_question_id_chat_history"),
        "chat_history",
        "chat_history",
        ["question_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_chat_history_ck_chat_history_answer_confidence"),
        "chat_history",
        "answer_confidence IS NULL OR (answer_confidence >= 0 AND answer_confidence <= 100)",
    )
    op.create_index("ix_chat_history_question_id", "chat_history", ["question_id"])

    op.add_column("background_jobs", sa.Column("saq_job_key", sa.String(255), nullable=True))
    op.execute("UPDATE background_jobs SET saq_job_key = id::text")
    op.create_index("ix_background_jobs_saq_job_key", "background_jobs", ["saq_job_key"])
    op.create_index("ix_background_jobs_created_at", "background_jobs", [sa.literal_column("created_at DESC")])

    op.execute("UPDATE kb_cache SET query_text = '' WHERE query_text IS NULL")
    op.alter_column("kb_cache", "query_text", nullable=False)
    op.execute("UPDATE kb_cache SET last_accessed_at = created_at WHERE last_accessed_at IS NULL")
    op.alter_column("kb_cache", "last_accessed_at", server_default=sa.text("now()"), nullable=False)


def downgrade() -> None:
    op.alter_column("kb_cache", "last_accessed_at", server_default=None, nullable=True)
    op.alter_column("kb_cache", "query_text", nullable=True)

    op.drop_index("ix_background_jobs_created_at", table_name="background_jobs")
    op.drop_index("ix_background_jobs_saq_job_key", table_name="background_jobs")
    op.drop_column("background_jobs", "saq_job_key")

    op.drop_index("ix_chat_history_question_id", table_name="chat_history")
    op.drop_constraint(op.f("ck_chat_history_ck_chat_history_answer_confidence"), "chat_history", type_="check")
    op.drop_constraint(op.f("fk_chat_history_question_id_chat_history"), "chat_history", type_="foreignkey")
    for column in ("actions", "answer_source", "answer_confidence", "question_id", "context"):
        op.drop_column("chat_history", column)

    op.drop_column("audit_results", "resolved")
    op.drop_column("budget_versions", "summary")
    op.drop_column("project_documents", "uploaded_at")
    op.drop_column("project_documents", "original_filename")
    op.drop_index("ix_positions_category", table_name="positions")
    for config in FTS_CONFIGS:
        op.drop_index(f"ix_project_documents_fts_{config}", table_name="project_documents")
        op.create_index(
            f"ix_project_documents_fts_{config}",
            "project_documents",
            [sa.literal_column(f"to_tsvector('{config}', coalesce(indexed_content, ''))")],
            postgresql_using="gin",
        )
    op.drop_index("ix_users_email", table_name="users")
    op.drop_column("users", "metadata")

    # Narrowing refuses values that no longer fit: cut them (the rows stay).
    op.execute("UPDATE positions SET code = left(code, 50) WHERE length(code) > 50")
    op.alter_column("positions", "code", type_=sa.String(50))
    op.execute("UPDATE projects SET name = left(name, 255) WHERE length(name) > 255")
    op.alter_column("projects", "name", type_=sa.String(255))
    for table, column, length in WIDENED_TO_50:
        op.alter_column(table, column, type_=sa.String(length))

    op.execute("ALTER MATERIALIZED VIEW project_analytics RENAME COLUMN date TO day")
    for table, old, new in RENAMED_CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old}")
    for old, new in RENAMED_INDEXES:
        op.execute(f"ALTER INDEX {new} RENAME TO {old}")
    for table, old, new in RENAMED_COLUMNS:
        op.alter_column(table, new, new_column_name=old)
