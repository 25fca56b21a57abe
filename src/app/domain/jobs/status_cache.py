"""`job:{id}:status` in Redis (24 h): a copy of the job row for fast polling; the row stays the truth.

Every writer updates the row first and this key after; readers fall back to the row when the key is
gone. Failures here are logged and never fail the caller.
"""

from __future__ import annotations

import uuid

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.db.models import BackgroundJob
from app.domain.jobs.schemas import JobRead, JobStatusRecord
from app.lib.redis import run_script

logger = structlog.get_logger(__name__)

STATUS_TTL_SECONDS = 24 * 3600
TERMINAL_STATUSES = ("completed", "failed", "cancelled")

# SET unless the cached job has already ended (ARGV[3..] are the ended statuses).
_SET_UNLESS_ENDED = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and type(record.job) == 'table' then
    for i = 3, #ARGV do
      if record.job.status == ARGV[i] then return 0 end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(JobStatusRecord)


def job_status_key(job_id: uuid.UUID | str) -> str:
    return f"job:{job_id}:status"


def status_record(row: BackgroundJob, project_owner_id: uuid.UUID | None) -> JobStatusRecord:
    return JobStatusRecord(job=JobRead.from_model(row), user_id=row.user_id, project_owner_id=project_owner_id)


async def write_job_status(redis: Redis, record: JobStatusRecord) -> None:
    try:
        await redis.set(job_status_key(record.job.id), _encoder.encode(record), ex=STATUS_TTL_SECONDS)
    except (RedisError, OSError) as exc:
        logger.warning("job status cache write failed", job_id=str(record.job.id), error=str(exc))


async def write_progress_status(redis: Redis, record: JobStatusRecord) -> None:
    """The copy a running attempt writes with its progress. It never replaces an ended job's record: a
    progress flush racing the cancel (or the run's own last write) would show the job running for 24 h."""
    try:
        await run_script(
            redis,
            _SET_UNLESS_ENDED,
            [job_status_key(record.job.id)],
            [_encoder.encode(record), STATUS_TTL_SECONDS, *TERMINAL_STATUSES],
        )
    except (RedisError, OSError) as exc:
        logger.warning("job status cache write failed", job_id=str(record.job.id), error=str(exc))


async def read_job_status(redis: Redis, job_id: uuid.UUID) -> JobStatusRecord | None:
    try:
        raw = await redis.get(job_status_key(job_id))
    except (RedisError, OSError) as exc:
        logger.warning("job status cache read failed", job_id=str(job_id), error=str(exc))
        return None
    if raw is None:
        return None
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        return None
