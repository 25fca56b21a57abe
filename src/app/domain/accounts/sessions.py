"""Login sessions in Redis: an opaque random token for the client, its SHA-256 as the Redis key.

`session:{session_id}` holds what a request needs (user id, e-mail, role, status) so that
authentication never touches PostgreSQL; `user:{user_id}:sessions` lists a user's session ids so
that suspension (or a role change) can end all of them at once. The raw token is never stored.

Every change of a live session (logout, suspension, role or status change) also publishes the
changed keys to the API processes' near-caches in the same MULTI and waits for their acks
(app.lib.near_cache), so the very next request in any process sees it.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import time
import uuid

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.lib import near_cache
from app.lib.errors import ServiceUnavailable

SESSION_COOKIE = "ca_session"


class SessionUser(msgspec.Struct, kw_only=True):
    """The authenticated user of a request (`request.user`), as stored in the session."""

    id: uuid.UUID
    email: str
    role: str
    status: str
    session_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class _StoredSession(msgspec.Struct, kw_only=True):
    user_id: uuid.UUID
    email: str
    role: str
    status: str
    created_at: datetime.datetime
    expires_at: datetime.datetime


class SessionStoreUnavailable(ServiceUnavailable):
    """Redis did not answer: sessions cannot be checked, so requests fail closed (503)."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_StoredSession)


def session_id_for(token: str) -> str:
    """The Redis key part of a token: its SHA-256, so a leaked Redis dump holds no usable token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_key(session_id: str) -> str:
    return f"session:{session_id}"


def user_sessions_key(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}:sessions"


def store_unavailable(exc: Exception) -> SessionStoreUnavailable:
    return SessionStoreUnavailable("The session store is unavailable; try again shortly.", headers={"Retry-After": "5"})


async def create_session(
    redis: Redis, *, user_id: uuid.UUID, email: str, role: str, status: str, ttl_seconds: int
) -> tuple[str, datetime.datetime]:
    """Store a new session; returns the token for the client and when it expires."""
    token = secrets.token_urlsafe(32)
    sid = session_id_for(token)
    now = datetime.datetime.now(datetime.UTC)
    expires_at = now + datetime.timedelta(seconds=ttl_seconds)
    stored = _StoredSession(
        user_id=user_id, email=email, role=role, status=status, created_at=now, expires_at=expires_at
    )
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(session_key(sid), _encoder.encode(stored), ex=ttl_seconds)
            pipe.sadd(user_sessions_key(user_id), sid)
            pipe.expire(user_sessions_key(user_id), ttl_seconds)
            await pipe.execute()
    except RedisError as exc:
        raise store_unavailable(exc) from exc
    return token, expires_at


def session_id_of_token(token: str | None) -> str | None:
    """The session id of a plausible token, else None (empty or absurdly long tokens are not looked up)."""
    if not token or len(token) > 256:
        return None
    return session_id_for(token)


def session_user(raw: bytes | str | None, session_id: str) -> SessionUser | None:
    """The user of a stored session (the bytes of `session:{id}`); None when absent, unreadable or suspended."""
    found = session_user_for(raw, session_id)
    return None if found is None else found[0]


def session_user_for(raw: bytes | str | None, session_id: str) -> tuple[SessionUser, float] | None:
    """Like `session_user`, with the seconds the session has left (how long a near-cache may keep it)."""
    if raw is None:
        return None
    try:
        stored = _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if stored.status == "suspended":
        return None
    user = SessionUser(
        id=stored.user_id, email=stored.email, role=stored.role, status=stored.status, session_id=session_id
    )
    return user, stored.expires_at.timestamp() - time.time()


async def resolve_session_id(redis: Redis, session_id: str) -> SessionUser | None:
    """The user of a session id, or None when the session is unknown, expired or ended.

    Raises `SessionStoreUnavailable` (503) when Redis does not answer: authentication fails closed.
    """
    try:
        raw = await redis.get(session_key(session_id))
    except RedisError as exc:
        raise store_unavailable(exc) from exc
    return session_user(raw, session_id)


async def resolve_session(redis: Redis, token: str) -> SessionUser | None:
    """The user behind a token, or None when the token is unknown or expired (503 when Redis is down)."""
    sid = session_id_of_token(token)
    return None if sid is None else await resolve_session_id(redis, sid)


async def delete_session(redis: Redis, session_id: str, user_id: uuid.UUID | str) -> None:
    """End one session (logout); every API process has forgotten it when this returns."""
    await _end_sessions(redis, user_id, [session_id])


async def delete_user_sessions(redis: Redis, user_id: uuid.UUID | str, *, keep: str | None = None) -> list[str]:
    """End every session of a user (suspension, password change) except `keep`; returns the ended ids."""
    try:
        ids = await redis.smembers(user_sessions_key(user_id))
    except RedisError as exc:
        raise store_unavailable(exc) from exc
    ended = [i.decode() if isinstance(i, bytes) else i for i in ids]
    ended = [sid for sid in ended if sid != keep]
    await _end_sessions(redis, user_id, ended)
    return ended


async def _end_sessions(redis: Redis, user_id: uuid.UUID | str, session_ids: list[str]) -> None:
    """Delete the sessions and their ids in the user's set in one transaction; with the near-cache,
    return once every API process has dropped them."""
    keys = [session_key(session_id) for session_id in session_ids]
    notice = near_cache.notice_of(redis, keys)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            if session_ids:
                pipe.delete(*keys)
                pipe.srem(user_sessions_key(user_id), *session_ids)
            if notice is not None:
                notice.add_to(pipe)
            replies = await pipe.execute()
    except RedisError as exc:
        raise store_unavailable(exc) from exc
    if notice is not None:
        await near_cache.await_acks(redis, notice, *replies[-2:])


async def update_user_sessions(redis: Redis, user_id: uuid.UUID | str, *, role: str, status: str) -> None:
    """Rewrite the role and status carried by a user's live sessions (e.g. after e-mail verification);
    every API process has forgotten the old ones when this returns."""
    try:
        ids = await redis.smembers(user_sessions_key(user_id))
        rewritten: dict[str, bytes] = {}
        for raw_id in ids:
            key = session_key(raw_id.decode() if isinstance(raw_id, bytes) else raw_id)
            raw = await redis.get(key)
            if raw is None:
                continue
            stored = msgspec.structs.replace(_decoder.decode(raw), role=role, status=status)
            rewritten[key] = _encoder.encode(stored)
        if not rewritten:
            return
        notice = near_cache.notice_of(redis, rewritten)
        # One MULTI: the new sessions and the notice to the near-caches happen together or not at all.
        async with redis.pipeline(transaction=True) as pipe:
            for key, value in rewritten.items():
                pipe.set(key, value, keepttl=True, xx=True)
            if notice is not None:
                notice.add_to(pipe)
            replies = await pipe.execute()
    except RedisError as exc:
        raise store_unavailable(exc) from exc
    if notice is not None:
        await near_cache.await_acks(redis, notice, *replies[-2:])
