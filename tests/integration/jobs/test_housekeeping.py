"""The worker's periodic upkeep: daily backup job submitted once, analytics refreshed, expired kb rows gone."""

from __future__ import annotations

from sqlalchemy import text

from app.config import Settings
from app.workers.housekeeping import housekeeping_pass
from app.workers.resources import WorkerResources


async def test_housekeeping_pass(settings: Settings) -> None:
    resources = WorkerResources.create(settings)
    try:
        async with resources.sessions() as session:
            await session.execute(
                text(
                    "INSERT INTO kb_cache (query_hash, query_type, result, expires_at) VALUES "
                    "('expired-hk', 'code', '{}'::jsonb, now() - interval '1 day'), "
                    "('fresh-hk', 'code', '{}'::jsonb, now() + interval '1 day')"
                )
            )
            await session.commit()
        await housekeeping_pass(resources)
        await housekeeping_pass(resources)  # a second pass the same day submits no second backup
        async with resources.sessions() as session:
            hashes = set((await session.execute(text("SELECT query_hash FROM kb_cache"))).scalars())
            backups = (
                await session.execute(text("SELECT count(*) FROM background_jobs WHERE job_type = 'backup'"))
            ).scalar_one()
        assert "expired-hk" not in hashes
        assert "fresh-hk" in hashes
        assert backups == 1
    finally:
        await resources.close()
