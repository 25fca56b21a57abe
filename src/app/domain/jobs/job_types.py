"""Every job type of the service, one line each (see app.domain.jobs.registry for the handler shape).

Add yours here, e.g.:
    register_job("audit_project", "app.domain.audits.jobs:audit_project", queue="high")
"""

from __future__ import annotations

import os

from app.domain.jobs.registry import register_job

register_job("recalculate", "app.domain.jobs.recalculate:recalculate_project", queue="default")
register_job("parse_document", "app.domain.documents.jobs:parse_document_job", queue="default")
register_job("export", "app.domain.exports.jobs:export_job", queue="default")
register_job("generate_budget_from_drawings", "app.domain.generation.jobs:generate_budget_job", queue="high")
register_job("enrich", "app.domain.kb.jobs:enrich_project", queue="default")
register_job("audit_project", "app.domain.audits.jobs:audit_project", queue="high")
register_job("backup", "app.domain.system.backup:backup_database", queue="low", timeout=3600)

# Test-only job types (slow, always failing) for the process-level tests; never in production.
if os.environ.get("CA_TEST_JOBS") == "1":
    register_job("test_sleep", "app.domain.jobs.test_job_types:sleep_job", queue="default")
    register_job("test_fail", "app.domain.jobs.test_job_types:failing_job", queue="default")
