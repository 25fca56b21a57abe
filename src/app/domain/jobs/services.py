"""Background jobs: the row in PostgreSQL is the record of truth, SAQ runs the work.

CONTRACT used by other domains (the implementation is being built in this module):

    job = await submit_job(db_session, job_type="parse_document", project_id=..., user_id=..., payload={...})

`submit_job` adds the `background_jobs` row to the caller's session, COMMITS the session (so the job
row and whatever the caller added in the same transaction land together), and only then enqueues the
job in SAQ under the row id. If the commit fails nothing is enqueued; if enqueueing fails after the
commit, the row stays `queued` and the reconciler enqueues it later.
"""

from __future__ import annotations
