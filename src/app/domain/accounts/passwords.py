"""Password rules and argon2 hashing (slow on purpose: it runs in a thread, off the event loop)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PASSWORD_MAX_LENGTH = 128  # argon2 takes any length; a bound stops hashing megabytes per request

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a failed login takes the same time either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password-timing-equaliser")


def password_problems(password: str, *, min_length: int, email: str | None = None) -> list[str]:
    """Why a password is refused (empty list when it is acceptable)."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters long")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"must be at most {PASSWORD_MAX_LENGTH} characters long")
    if password.strip() == "" or len(set(password)) < 4:
        problems.append("must not be blank or repeat only a few characters")
    elif password.isdigit() or password.isalpha():
        problems.append("must mix letters with digits or symbols")
    if email and email.split("@", 1)[0].lower() in password.lower() and len(email.split("@", 1)[0]) >= 3:
        problems.append("must not contain the e-mail name")
    return problems


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) a dummy hash is checked so timing matches."""
    if password_hash is None:
        await asyncio.to_thread(_verify, _DUMMY_HASH, password)
        return False
    return await asyncio.to_thread(_verify, password_hash, password)
