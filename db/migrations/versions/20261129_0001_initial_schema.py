"""Initial schema: every table, index and constraint, extensions, updated_at triggers, analytics view.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 00:17:56.121767+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES_WITH_UPDATED_AT = (
    "users",
    "projects",
    "project_documents",
    "positions",
    "background_jobs",
    "catalog_items",
    "reference_sets",
)


def upgrade() -> None:
    # pg_trgm: fuzzy catalogue matching. UUIDs come from the built-in gen_random_uuid() (PostgreSQL 13+),
    # so pgcrypto is not needed.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "catalog_items",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("catalog", sa.String(length=50), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("reference_price", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("valid_from", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("dataset_version", sa.String(length=50), server_default="shipped", nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("catalog", "code", "valid_from", name="uq_catalog_items_catalog_code_valid_from"),
    )
    op.create_index("ix_catalog_items_code", "catalog_items", ["code"], unique=False)
    op.create_index(
        "ix_catalog_items_description_trgm",
        "catalog_items",
        ["description"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"description": "gin_trgm_ops"},
    )
    op.create_table(
        "kb_cache",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("query_hash", sa.String(length=64), nullable=False),
        sa.Column("query_type", sa.String(length=50), nullable=False),
        sa.Column("query_text", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "sources",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_accessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_cache")),
        sa.UniqueConstraint("query_hash", name=op.f("uq_kb_cache_query_hash")),
    )
    op.create_index("ix_kb_cache_expires_at", "kb_cache", ["expires_at"], unique=False)
    op.create_index("ix_kb_cache_query_type", "kb_cache", ["query_type"], unique=False)
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        "ix_outbox_messages_unsent",
        "outbox_messages",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "reference_sets",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_sets")),
        sa.UniqueConstraint("kind", "version", name="uq_reference_sets_kind_version"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=20), server_default="user", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("email_verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("verification_token_hash", sa.String(length=64), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "role IN ('user', 'pro', 'business', 'enterprise', 'admin')", name=op.f("ck_users_ck_users_role")
        ),
        sa.CheckConstraint("status IN ('pending', 'active', 'suspended')", name=op.f("ck_users_ck_users_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("verification_token_hash", name=op.f("uq_users_verification_token_hash")),
    )
    op.create_index("ix_users_role", "users", ["role"], unique=False)
    op.create_index("ix_users_status", "users", ["status"], unique=False)
    op.create_index("uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True)
    op.create_table(
        "projects",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("workflow", sa.String(length=20), server_default="workflow_a", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("progress", sa.Numeric(precision=5, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column("current_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_positions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_cost", sa.Numeric(precision=15, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column("issues_count_red", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("issues_count_amber", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("issues_count_green", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'parsing', 'enriching', 'auditing', 'completed', 'failed')",
            name=op.f("ck_projects_ck_projects_status"),
        ),
        sa.CheckConstraint("workflow IN ('workflow_a', 'workflow_b')", name=op.f("ck_projects_ck_projects_workflow")),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name=op.f("ck_projects_ck_projects_progress")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_projects_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index("ix_projects_created_at", "projects", ["created_at"], unique=False)
    op.create_index(
        "ix_projects_owner_created",
        "projects",
        ["owner_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index("ix_projects_owner_id", "projects", ["owner_id"], unique=False)
    op.create_index("ix_projects_status", "projects", ["status"], unique=False)
    op.create_index("ix_projects_workflow", "projects", ["workflow"], unique=False)
    op.create_table(
        "background_jobs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("job_type", sa.String(length=50), nullable=False),
        sa.Column("queue", sa.String(length=20), server_default="default", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("progress", sa.Numeric(precision=5, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column("current_step", sa.String(length=500), nullable=True),
        sa.Column("total_steps", sa.Integer(), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_retries", sa.Integer(), server_default=sa.text("3"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("result_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("artifact_path", sa.String(length=1000), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_background_jobs_ck_background_jobs_status"),
        ),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 100", name=op.f("ck_background_jobs_ck_background_jobs_progress")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_background_jobs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_background_jobs_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_jobs")),
    )
    op.create_index("ix_background_jobs_job_type", "background_jobs", ["job_type"], unique=False)
    op.create_index("ix_background_jobs_project_id", "background_jobs", ["project_id"], unique=False)
    op.create_index("ix_background_jobs_status", "background_jobs", ["status"], unique=False)
    op.create_index(
        "ix_background_jobs_status_priority",
        "background_jobs",
        ["status", sa.literal_column("priority DESC")],
        unique=False,
    )
    op.create_index("ix_background_jobs_user_id", "background_jobs", ["user_id"], unique=False)
    op.create_table(
        "budget_versions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger_type", sa.String(length=50), nullable=False),
        sa.Column(
            "trigger_details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("total_positions", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_cost", sa.Numeric(precision=15, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column("delta_cost", sa.Numeric(precision=15, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text('\'{"added": [], "removed": [], "modified": []}\'::jsonb'),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "trigger_type IN ('initial', 'document_added', 'user_edit', 'audit', 'enrichment', 'chat_command', 'import', 'generated', 'recalculation')",
            name=op.f("ck_budget_versions_ck_budget_versions_trigger_type"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_budget_versions_ck_budget_versions_version")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_budget_versions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_budget_versions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_versions")),
        sa.UniqueConstraint("project_id", "version", name="uq_budget_versions_project_version"),
    )
    op.create_index(
        "ix_budget_versions_project_version_desc",
        "budget_versions",
        ["project_id", sa.literal_column("version DESC")],
        unique=False,
    )
    op.create_index("ix_budget_versions_trigger_type", "budget_versions", ["trigger_type"], unique=False)
    op.create_table(
        "chat_history",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("role", sa.String(length=20), server_default="user", nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("message_type", sa.String(length=50), server_default="text", nullable=False),
        sa.Column(
            "position_ids",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "document_ids",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "role IN ('user', 'assistant', 'system')", name=op.f("ck_chat_history_ck_chat_history_role")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_chat_history_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_chat_history_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_history")),
    )
    op.create_index(
        "ix_chat_history_project_created",
        "chat_history",
        ["project_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index("ix_chat_history_user_id", "chat_history", ["user_id"], unique=False)
    op.create_table(
        "project_documents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("uploaded_by", sa.UUID(), nullable=True),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("file_type", sa.String(length=50), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("storage_path", sa.String(length=1000), nullable=False),
        sa.Column("parse_status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("parse_error", sa.Text(), nullable=True),
        sa.Column("parsed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "extracted_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("indexed_content", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "parse_status IN ('pending', 'parsing', 'completed', 'failed', 'skipped')",
            name=op.f("ck_project_documents_ck_project_documents_parse_status"),
        ),
        sa.CheckConstraint("file_size >= 0", name=op.f("ck_project_documents_ck_project_documents_file_size")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_documents_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_project_documents_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_documents")),
    )
    op.create_index("ix_project_documents_content_hash", "project_documents", ["content_hash"], unique=False)
    op.create_index("ix_project_documents_file_type", "project_documents", ["file_type"], unique=False)
    op.create_index(
        "ix_project_documents_fts_english",
        "project_documents",
        [sa.literal_column("to_tsvector('english', coalesce(indexed_content, ''))")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_project_documents_fts_simple",
        "project_documents",
        [sa.literal_column("to_tsvector('simple', coalesce(indexed_content, ''))")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("ix_project_documents_parse_status", "project_documents", ["parse_status"], unique=False)
    op.create_index("ix_project_documents_project_id", "project_documents", ["project_id"], unique=False)
    op.create_table(
        "positions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("version_id", sa.UUID(), nullable=False),
        sa.Column("lineage_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("position_number", sa.String(length=50), nullable=True),
        sa.Column("code", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=15, scale=4), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("total_price", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=True),
        sa.Column("confidence", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("source", sa.String(length=20), server_default="manual", nullable=False),
        sa.Column("source_document_id", sa.UUID(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column(
            "enrichment",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "source IN ('uploaded', 'generated', 'manual', 'migrated')",
            name=op.f("ck_positions_ck_positions_source"),
        ),
        sa.CheckConstraint(
            "status IS NULL OR status IN ('GREEN', 'AMBER', 'RED')",
            name=op.f("ck_positions_ck_positions_status"),
        ),
        sa.CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 100)",
            name=op.f("ck_positions_ck_positions_confidence"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_positions_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["project_documents.id"],
            name=op.f("fk_positions_source_document_id_project_documents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["budget_versions.id"],
            name=op.f("fk_positions_version_id_budget_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index("ix_positions_code", "positions", ["code"], unique=False)
    op.create_index("ix_positions_project_category", "positions", ["project_id", "category"], unique=False)
    op.create_index("ix_positions_project_id", "positions", ["project_id"], unique=False)
    op.create_index("ix_positions_project_status", "positions", ["project_id", "status"], unique=False)
    op.create_index("ix_positions_source_document_id", "positions", ["source_document_id"], unique=False)
    op.create_index("ix_positions_status", "positions", ["status"], unique=False)
    op.create_index("ix_positions_version_id", "positions", ["version_id"], unique=False)
    op.create_index("uq_positions_version_lineage", "positions", ["version_id", "lineage_id"], unique=True)
    op.create_table(
        "audit_results",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("version_id", sa.UUID(), nullable=True),
        sa.Column("position_id", sa.UUID(), nullable=False),
        sa.Column("expert_role", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=5, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column(
            "evidence",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "issues",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "suggestions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "conflicts_with",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('GREEN', 'AMBER', 'RED')", name=op.f("ck_audit_results_ck_audit_results_status")
        ),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 100", name=op.f("ck_audit_results_ck_audit_results_confidence")
        ),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
            name=op.f("fk_audit_results_position_id_positions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_audit_results_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["budget_versions.id"],
            name=op.f("fk_audit_results_version_id_budget_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_results")),
    )
    op.create_index("ix_audit_results_expert_role", "audit_results", ["expert_role"], unique=False)
    op.create_index("ix_audit_results_position_id", "audit_results", ["position_id"], unique=False)
    op.create_index("ix_audit_results_project_id", "audit_results", ["project_id"], unique=False)
    op.create_index("ix_audit_results_status", "audit_results", ["status"], unique=False)
    op.create_index("ix_audit_results_version_id", "audit_results", ["version_id"], unique=False)
    op.create_index("uq_audit_results_position_expert", "audit_results", ["position_id", "expert_role"], unique=True)
    op.execute(
        """
        CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger AS $$
        BEGIN
            -- the ORM sets updated_at itself; raw UPDATEs (bulk, COPY-loaded rows, SQL) get it here
            IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
                NEW.updated_at = now();
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )
    op.execute(
        """
        CREATE MATERIALIZED VIEW project_analytics AS
        WITH days AS (
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day FROM projects
            UNION
            SELECT (completed_at AT TIME ZONE 'UTC')::date FROM projects WHERE completed_at IS NOT NULL
        )
        SELECT
            d.day,
            (SELECT count(*) FROM projects p WHERE (p.created_at AT TIME ZONE 'UTC')::date = d.day)
                AS projects_created,
            (SELECT count(*) FROM projects p
              WHERE p.completed_at IS NOT NULL AND (p.completed_at AT TIME ZONE 'UTC')::date = d.day)
                AS projects_completed,
            (SELECT round(avg(p.total_cost), 2) FROM projects p
              WHERE (p.created_at AT TIME ZONE 'UTC')::date = d.day)
                AS average_cost
        FROM days d
        WITH DATA
        """
    )
    # A unique index is what lets REFRESH MATERIALIZED VIEW CONCURRENTLY run.
    op.execute("CREATE UNIQUE INDEX ix_project_analytics_day ON project_analytics (day)")


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW IF EXISTS project_analytics")
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_updated_at ON {table}")
    op.execute("DROP FUNCTION IF EXISTS set_updated_at()")
    op.drop_index("uq_audit_results_position_expert", table_name="audit_results")
    op.drop_index("ix_audit_results_version_id", table_name="audit_results")
    op.drop_index("ix_audit_results_status", table_name="audit_results")
    op.drop_index("ix_audit_results_project_id", table_name="audit_results")
    op.drop_index("ix_audit_results_position_id", table_name="audit_results")
    op.drop_index("ix_audit_results_expert_role", table_name="audit_results")
    op.drop_table("audit_results")
    op.drop_index("uq_positions_version_lineage", table_name="positions")
    op.drop_index("ix_positions_version_id", table_name="positions")
    op.drop_index("ix_positions_status", table_name="positions")
    op.drop_index("ix_positions_source_document_id", table_name="positions")
    op.drop_index("ix_positions_project_status", table_name="positions")
    op.drop_index("ix_positions_project_id", table_name="positions")
    op.drop_index("ix_positions_project_category", table_name="positions")
    op.drop_index("ix_positions_code", table_name="positions")
    op.drop_table("positions")
    op.drop_index("ix_project_documents_project_id", table_name="project_documents")
    op.drop_index("ix_project_documents_parse_status", table_name="project_documents")
    op.drop_index("ix_project_documents_fts_simple", table_name="project_documents", postgresql_using="gin")
    op.drop_index("ix_project_documents_fts_english", table_name="project_documents", postgresql_using="gin")
    op.drop_index("ix_project_documents_file_type", table_name="project_documents")
    op.drop_index("ix_project_documents_content_hash", table_name="project_documents")
    op.drop_table("project_documents")
    op.drop_index("ix_chat_history_user_id", table_name="chat_history")
    op.drop_index("ix_chat_history_project_created", table_name="chat_history")
    op.drop_table("chat_history")
    op.drop_index("ix_budget_versions_trigger_type", table_name="budget_versions")
    op.drop_index("ix_budget_versions_project_version_desc", table_name="budget_versions")
    op.drop_table("budget_versions")
    op.drop_index("ix_background_jobs_user_id", table_name="background_jobs")
    op.drop_index("ix_background_jobs_status_priority", table_name="background_jobs")
    op.drop_index("ix_background_jobs_status", table_name="background_jobs")
    op.drop_index("ix_background_jobs_project_id", table_name="background_jobs")
    op.drop_index("ix_background_jobs_job_type", table_name="background_jobs")
    op.drop_table("background_jobs")
    op.drop_index("ix_projects_workflow", table_name="projects")
    op.drop_index("ix_projects_status", table_name="projects")
    op.drop_index("ix_projects_owner_id", table_name="projects")
    op.drop_index("ix_projects_owner_created", table_name="projects")
    op.drop_index("ix_projects_created_at", table_name="projects")
    op.drop_table("projects")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_index("ix_users_status", table_name="users")
    op.drop_index("ix_users_role", table_name="users")
    op.drop_table("users")
    op.drop_table("reference_sets")
    op.drop_index(
        "ix_outbox_messages_unsent", table_name="outbox_messages", postgresql_where=sa.text("sent_at IS NULL")
    )
    op.drop_table("outbox_messages")
    op.drop_index("ix_kb_cache_query_type", table_name="kb_cache")
    op.drop_index("ix_kb_cache_expires_at", table_name="kb_cache")
    op.drop_table("kb_cache")
    op.drop_index(
        "ix_catalog_items_description_trgm",
        table_name="catalog_items",
        postgresql_using="gin",
        postgresql_ops={"description": "gin_trgm_ops"},
    )
    op.drop_index("ix_catalog_items_code", table_name="catalog_items")
    op.drop_table("catalog_items")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
