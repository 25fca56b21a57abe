"""Cached project reads: the project state and each user's project lists (see app.lib.cache).

A project's state (`project:{id}:state`) is its whole API form, encoded once. A user's list page
(one field per query string of the hash `user:{id}:projects`) holds only WHICH projects it shows, in
order, and the total; its items are the projects' state entries, read in the same Redis call as the
page (`read_list_page`). So each entry is dropped only by what it depends on:

- an edit of a project (its budget, its results, its progress) drops that project's state only;
- what can change a page's membership, order or total — a project created or deleted, a change of
  a field the list filters or sorts by (``LISTED_FIELDS``) — drops the owner's pages
  (``ProjectListChanged``, recorded with the transaction, see app.domain.projects.changes).

PUBLIC: every write that changes a project's row or its aggregates takes the row lock
(``lock_project``), which records ``ProjectChanged``; after the commit that calls

    await invalidate_project(redis, project_id)

and a writer that still holds its session may then put the new state in place at once, so that the
next read (the client's, right after its edit) is a hit:

    await refresh_project_state(redis, db_session, project_id, ttl_seconds=...)
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import msgspec
from litestar.types import Scope
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Project
from app.domain.accounts.sessions import SessionUser
from app.domain.projects.schemas import ProjectRead
from app.lib import cache
from app.lib.redis import run_script

DEFAULT_TTL_SECONDS = 3600


_STATE_KEY_PREFIX, _STATE_KEY_SUFFIX = "project:", ":state"
# What a list may filter or sort by (app.domain.projects.deps, the list's order): a change of one of
# these can move a project into, out of or within a user's list pages. Everything else a list shows
# comes from the projects' state entries.
LISTED_FIELDS = ("owner_id", "created_at", "name", "description", "status", "workflow")


def project_state_key(project_id: uuid.UUID | str) -> str:
    return f"{_STATE_KEY_PREFIX}{project_id}{_STATE_KEY_SUFFIX}"


def _state_entry_of(scope: Scope, user_id: str) -> tuple[str, None] | None:
    settings = scope["litestar_app"].state.settings
    if settings.MIGRATION_READ_FROM == "files":  # the file store answers, not the cache
        return None
    return project_state_key(scope["path_params"]["project_id"]), None


def may_see(owner_tag: str, actor: SessionUser) -> bool:
    """Owners see their projects, administrators see all (others get 404, never 403)."""
    return actor.is_admin or owner_tag == str(actor.id)


# For the request gate (`cache.CACHE_PREFETCH_OPT` of GET /api/projects/{id}).
PREFETCH_PROJECT_STATE = cache.Prefetch(entry=_state_entry_of, family="project_state", visible=may_see)


def user_projects_key(owner_id: uuid.UUID | str) -> str:
    """A hash: one field per query string of the list endpoint (its ids and total), dropped together."""
    return f"user:{owner_id}:projects"


def project_positions_key(project_id: uuid.UUID | str) -> str:
    """A hash: the pages of the project's latest budget version (app.domain.budgets.reads), one field
    per query, dropped with the project's state."""
    return f"project:{project_id}:positions"


async def invalidate_project(redis: Redis, project_id: uuid.UUID | str, *, positions: bool = True) -> None:
    """Forget the cached state of a project and, unless only its progress moved (`positions=False`),
    the pages of its positions; call it after the commit. Never raises."""
    keys = [project_state_key(project_id)]
    if positions:
        keys.append(project_positions_key(project_id))
    await cache.invalidate(redis, *keys)


async def write_project_state(
    redis: Redis, project_id: uuid.UUID | str, state: cache.CachedBytes, generation: bytes | None, *, ttl_seconds: int
) -> None:
    """`invalidate_project` that also puts the project's new state in place, in the same MULTI (a
    write-through without reading PostgreSQL again): `state` is the project's row as its writer
    committed it, `generation` the state's generation that writer read before its commit (under the
    row lock or before it). The state is stored only if the bump makes exactly the next generation,
    i.e. no other write bumped it in between; a later writer that bumps after it makes it stale as
    usual. `generation=None` only drops. Never raises."""
    key = project_state_key(project_id)
    fills = []
    if generation is not None and generation.isdigit():
        fills.append(cache.Fill(key, str(int(generation) + 1).encode(), state))
    await cache.invalidate(redis, key, project_positions_key(project_id), fills=fills, ttl_seconds=ttl_seconds)


async def invalidate_user_projects(redis: Redis, owner_id: uuid.UUID | str) -> None:
    """Forget every list page of a user (membership, order or total may have changed); after the commit."""
    await cache.invalidate(redis, user_projects_key(owner_id))


_encode_state = msgspec.json.Encoder().encode


def project_state_entry(project: Project) -> cache.CachedBytes:
    """The cached form of a project's state: encoded once, tagged with its owner for the visibility check."""
    return cache.CachedBytes(str(project.owner_id), _encode_state(ProjectRead.from_model(project)))


async def refresh_project_state(
    redis: Redis, db_session: AsyncSession, project_id: uuid.UUID, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> None:
    """Write-through after a committed write (see app.lib.cache.refresh_entry); never raises."""

    async def load() -> cache.CachedBytes | None:
        project = await db_session.get(Project, project_id, populate_existing=True)
        return project_state_entry(project) if project is not None else None

    await cache.refresh_entry(redis, project_state_key(project_id), load, ttl_seconds=ttl_seconds)


# KEYS: the user's page hash, its generation. ARGV: the page's field, the state keys' prefix and
# suffix, the generation keys' suffix. Reply: the page's generation and stored entry, then — only
# when that entry is current — the generation and stored entry of each project it lists, in order.
# A page entry's body is `total,id,id,...` (see `list_page_entry`).
_LIST_READ_SCRIPT = (
    cache.READ_ENTRY_LUA
    + """
local generation, stored = cache_read(KEYS[1], KEYS[2], ARGV[1])
local reply = {generation, stored}
if not stored then return reply end
local head = generation .. '\\31'
if string.sub(stored, 1, #head) ~= head then return reply end
local tag_end = string.find(stored, '\\31', #head + 1, true)
if not tag_end then return reply end
local total_seen = false
for id in string.gmatch(string.sub(stored, tag_end + 1), '[^,]+') do
  if total_seen then
    local key = ARGV[2] .. id .. ARGV[3]
    local item_generation, item = cache_read(key, key .. ARGV[4], '')
    reply[#reply + 1] = item_generation
    reply[#reply + 1] = item
  end
  total_seen = true
end
return reply
"""
)

# KEYS: state entries. ARGV: the generation keys' suffix. Reply: generation, stored entry of each.
_STATES_READ_SCRIPT = (
    cache.READ_ENTRY_LUA
    + """
local reply = {}
for _, key in ipairs(KEYS) do
  local generation, stored = cache_read(key, key .. ARGV[1], '')
  reply[#reply + 1] = generation
  reply[#reply + 1] = stored
end
return reply
"""
)
_GENERATION_SUFFIX = cache.generation_key("")


class ListPage(NamedTuple):
    """A list page as stored: the projects it shows, in order, and the total of its query."""

    ids: list[str]
    total: int


def list_page_entry(owner_id: uuid.UUID | str, page: ListPage) -> cache.CachedBytes:
    return cache.CachedBytes(str(owner_id), ",".join([str(page.total), *page.ids]).encode())


def list_page_of(entry: cache.CachedBytes) -> ListPage:
    total, *ids = entry.body.decode().split(",")
    return ListPage(ids=ids, total=int(total))


def _pairs(reply: list[Any]) -> list[cache.CacheRead]:
    return [cache.cache_read_of(reply[i : i + 2]) for i in range(0, len(reply), 2)]


async def read_list_page(
    redis: Redis, owner_id: uuid.UUID | str, field: str
) -> tuple[cache.CacheRead, list[cache.CacheRead]]:
    """One Redis call: a user's list page and, if it is current, the state entries of its projects.
    Raises RedisError."""
    reply = await run_script(
        redis,
        _LIST_READ_SCRIPT,
        [user_projects_key(owner_id), cache.generation_key(user_projects_key(owner_id))],
        [field, _STATE_KEY_PREFIX, _STATE_KEY_SUFFIX, _GENERATION_SUFFIX],
    )
    page, *items = _pairs(reply)
    return page, items


async def read_project_states(redis: Redis, project_ids: list[str]) -> list[cache.CacheRead]:
    """One Redis call: the state entries of these projects, in order. Raises RedisError."""
    if not project_ids:
        return []
    keys = [project_state_key(project_id) for project_id in project_ids]
    return _pairs(await run_script(redis, _STATES_READ_SCRIPT, keys, [_GENERATION_SUFFIX]))
