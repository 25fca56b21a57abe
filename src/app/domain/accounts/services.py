"""Account rules: registration, e-mail verification, login, suspension."""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import uuid

import structlog
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select

from app.config import Settings
from app.db.models import OutboxMessage, User, utc_now
from app.domain.accounts import sessions
from app.domain.accounts.cache import ME_FAMILY, me_entry, me_key
from app.domain.accounts.passwords import hash_password, password_problems, verify_password
from app.lib import cache
from app.lib.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
    field_error,
)
from app.lib.rate_limit import give_back, parse_limit, rate_limit_key, take_one
from app.lib.redis_events import announce_sessions_ended

logger = structlog.get_logger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOGIN_FAILED = "Invalid e-mail or password."


def normalise_email(email: str) -> str:
    """Trim and lower-case: e-mail addresses are unique case-insensitively."""
    return email.strip().lower()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def failed_sign_ins_key(email: str) -> str:
    """The rate-limit window of an account's sign-ins (by its e-mail's hash: no address in Redis keys;
    unknown e-mails count alike, so a 429 tells nothing about whether the account exists)."""
    return rate_limit_key(f"account:{token_hash(normalise_email(email))}", "auth")


class UserService(SQLAlchemyAsyncRepositoryService[User]):
    """Users and their sessions; every method that changes rows commits before it returns."""

    class Repository(SQLAlchemyAsyncRepository[User]):
        model_type = User

    repository_type = Repository

    async def me(
        self, actor: sessions.SessionUser, *, redis: Redis, ttl_seconds: int, read: cache.CacheRead | None
    ) -> bytes:
        """The body of `/api/me`: the cached one (the request gate usually answers a hit before the
        handler runs, and hands over what it read), else loaded from PostgreSQL and stored
        (app.domain.accounts.cache)."""
        key = me_key(actor.id)

        async def load() -> cache.CachedBytes | None:
            user = await self.get_one_or_none(id=actor.id)
            return None if user is None else me_entry(user)

        entry = await cache.get_or_load_entry(redis, key, load, ttl_seconds=ttl_seconds, family=ME_FAMILY, read=read)
        if entry is None:
            raise NotFound("The user does not exist.")
        return entry.body

    async def get_by_email(self, email: str) -> User | None:
        statement = select(User).where(func.lower(User.email) == normalise_email(email))
        return (await self.repository.session.execute(statement)).scalar_one_or_none()

    async def register(
        self,
        *,
        email: str,
        password: str,
        full_name: str | None,
        settings: Settings,
        role: str = "user",
        status: str = "pending",
    ) -> tuple[User, str]:
        """Create a user and queue the verification e-mail; returns the user and the raw token."""
        email = normalise_email(email)
        errors = []
        if not _EMAIL.match(email):
            errors.append(field_error("email", "is not a valid e-mail address"))
        problems = password_problems(password, min_length=settings.PASSWORD_MIN_LENGTH, email=email)
        errors += [field_error("password", problem) for problem in problems]
        if errors:
            raise InvalidInput("The registration is not valid.", errors=errors)
        if await self.get_by_email(email) is not None:
            raise Conflict(
                "An account with this e-mail already exists.",
                errors=[field_error("email", "is already registered")],
            )
        token = secrets.token_urlsafe(32)
        user = User(
            id=uuid.uuid4(),  # now, not at the flush: the outbox message below names its user
            email=email,
            password_hash=await hash_password(password),
            full_name=(full_name or "").strip() or None,
            role=role,
            status=status,
            email_verified=status == "active",
            verification_token_hash=None if status == "active" else token_hash(token),
        )
        session = self.repository.session
        session.add(user)
        if status != "active":
            session.add(
                OutboxMessage(
                    kind="verify_email",
                    recipient=email,
                    subject="Confirm your e-mail address",
                    body=f"Confirm your e-mail address with this token: {token}",
                    payload={"token": token},
                    user_id=user.id,
                )
            )
        await session.commit()
        if settings.DEBUG and status != "active":
            logger.info("verification token (development only)", email=email, token=token)
        return user, token

    async def verify_email(self, token: str, redis: Redis) -> User:
        statement = select(User).where(User.verification_token_hash == token_hash(token)).with_for_update()
        user = (await self.repository.session.execute(statement)).scalar_one_or_none()
        if user is None:
            raise InvalidInput(
                "The verification token is not valid.", errors=[field_error("token", "is unknown or already used")]
            )
        user.email_verified = True
        user.verification_token_hash = None
        if user.status == "pending":
            user.status = "active"
        await self.repository.session.commit()
        await self._sessions_follow_row(user, redis)
        return user

    async def login(
        self, *, email: str, password: str, redis: Redis, settings: Settings
    ) -> tuple[User, str, datetime.datetime]:
        """Check the password and open a session. The same answer and timing for an unknown e-mail.

        Failed sign-ins count per account as well as per address (the request gate's limit): a client
        that changes its address would otherwise guess one account's password without end. Every
        attempt takes one request of the account's `RATE_LIMIT_AUTH` window before the password is
        checked (so concurrent guesses cannot all pass a check first) and a right password gives it
        back; once the window is spent the account answers 429 until it ends, the right password too
        (else the answer would tell which guess was right)."""
        attempts = failed_sign_ins_key(email)
        limit = parse_limit(settings.RATE_LIMIT_AUTH)
        try:
            retry_after = await take_one(redis, attempts, limit)
        except RedisError as exc:
            raise sessions.store_unavailable(exc) from exc
        if retry_after:
            raise TooManyRequests(
                f"Too many failed sign-ins for this account. Retry in {retry_after} s.",
                headers={"Retry-After": str(retry_after)},
            )
        user = await self.get_by_email(email)
        ok = await verify_password(user.password_hash if user else None, password)
        if user is None or not ok:
            raise NotAuthenticated(LOGIN_FAILED)
        try:
            await give_back(redis, attempts)
        except RedisError as exc:
            raise sessions.store_unavailable(exc) from exc
        # The user's row locked and read again under the lock: a suspension, role or password change
        # committed while the password was checked applies to this sign-in, and one that commits later
        # waits for this transaction, so it finds (and ends or rewrites) the session opened here.
        checked_hash = user.password_hash
        await self.repository.session.refresh(user, with_for_update=True)
        if user.password_hash != checked_hash:  # the password checked is no longer the password
            raise NotAuthenticated(LOGIN_FAILED)
        if user.status == "suspended":
            raise Forbidden("This account is suspended.")
        token, expires_at = await sessions.create_session(
            redis,
            user_id=user.id,
            email=user.email,
            role=user.role,
            status=user.status,
            ttl_seconds=settings.SESSION_TTL_SECONDS,
        )
        user.last_login_at = utc_now()
        try:
            await self.repository.session.commit()
        except Exception:
            await sessions.delete_session(redis, sessions.session_id_for(token), user.id)
            raise
        return user, token, expires_at

    async def update_account(
        self,
        user_id: uuid.UUID,
        *,
        redis: Redis,
        namespace: str,
        status: str | None = None,
        role: str | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> User:
        """Suspend, re-activate or change the role of an account; its live sessions follow at once
        (suspension ends them, other changes rewrite what they carry) and its open sockets close, in
        every API process (a socket re-opened with a live session carries the new role)."""
        user = await self.get_one_or_none(id=user_id)
        if user is None:
            raise NotFound("The user does not exist.")
        if user.id == actor_id:  # no API could undo it: the last administrator would be locked out for good
            if status == "suspended":
                raise Conflict(
                    "An administrator cannot suspend themselves.", errors=[field_error("status", "not your own")]
                )
            if role is not None and role != user.role:
                raise Conflict(
                    "An administrator cannot change their own role.", errors=[field_error("role", "not your own")]
                )
        if status == "suspended":
            # Before the commit too: a Redis failure then refuses the change instead of leaving
            # live sessions of a suspended user behind.
            await sessions.delete_user_sessions(redis, user.id)
        if status is not None:
            user.status = status
        if role is not None:
            user.role = role
        await self.repository.session.commit()
        await self._sessions_follow_row(user, redis)
        await announce_sessions_ended(redis, namespace, user.id, None)
        return user

    async def _sessions_follow_row(self, user: User, redis: Redis) -> None:
        """After a committed change of the user: their live sessions carry the role and status the row
        holds now (a suspended user's end), and `user` is that row.

        The row is read again under its lock and the sessions are rewritten before the lock goes, so
        the rewrites of two changes racing each other (two administrators) run one after the other,
        each with what PostgreSQL then holds: the last one carries the last commit. Rewriting with the
        values this request wrote instead could let a slower rewrite land after the later change's
        and leave a demoted administrator's sessions with admin rights."""
        session = self.repository.session
        await session.refresh(user, with_for_update=True)
        try:
            if user.status == "suspended":
                await sessions.delete_user_sessions(redis, user.id)
            else:
                await sessions.update_user_sessions(redis, user.id, role=user.role, status=user.status)
        finally:
            await session.commit()  # nothing written: ends the transaction and its lock

    async def change_password(
        self,
        actor: sessions.SessionUser,
        *,
        current_password: str,
        new_password: str,
        redis: Redis,
        settings: Settings,
    ) -> int:
        """Set a new password; every other session of the user ends (and its sockets close). Returns
        how many sessions ended. The session that asked stays signed in."""
        user = await self.get_one_or_none(id=actor.id)
        if user is None:
            raise NotFound("The user does not exist.")
        if not await verify_password(user.password_hash, current_password):
            raise InvalidInput(
                "The current password is wrong.", errors=[field_error("current_password", "does not match")]
            )
        problems = password_problems(new_password, min_length=settings.PASSWORD_MIN_LENGTH, email=user.email)
        if problems:
            raise InvalidInput(
                "The new password is not valid.", errors=[field_error("new_password", p) for p in problems]
            )
        user.password_hash = await hash_password(new_password)
        await self.repository.session.commit()
        ended = await sessions.delete_user_sessions(redis, user.id, keep=actor.session_id)
        if ended:
            await announce_sessions_ended(redis, settings.REDIS_NAMESPACE, user.id, ended)
        return len(ended)

    async def logout(self, actor: sessions.SessionUser, *, redis: Redis, namespace: str) -> None:
        """End this session at once; its open sockets close in every API process."""
        await sessions.delete_session(redis, actor.session_id, actor.id)
        await announce_sessions_ended(redis, namespace, actor.id, [actor.session_id])
