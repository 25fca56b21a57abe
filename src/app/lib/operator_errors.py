"""Readable failures for operators: the cause of a failed database operation and what to do about it.

Commands (`app db upgrade`, `app serve`, `app db restore` …) turn a failure into one message naming its
cause (the server's own words, not a traceback or the SQL being run) and, when the cause is a known
one, the remedy.
"""

from __future__ import annotations

# A phrase of the cause (lower case) → what the operator should do.
REMEDIES: tuple[tuple[str, str], ...] = (
    (
        "already exists",
        "the target database is not empty: restore into a freshly created database "
        "(createdb, then `app db restore FILE`), or pass --clean to drop and replace its objects",
    ),
    ("does not exist", "check the database name in DATABASE_URL (create it first when restoring into a new one)"),
    ("password authentication failed", "check the user and password in DATABASE_URL"),
    ("connection refused", "is PostgreSQL running and reachable at the host and port of DATABASE_URL?"),
    ("connect call failed", "is the server running and reachable at the host and port of its URL?"),
    ("permission denied", "the database user lacks a privilege: run as the database owner or a superuser"),
    ("input file does not appear to be a valid archive", "the file is not a backup made by `app db backup`"),
    ("aborting because of server version mismatch", "use a pg_dump at least as new as the server"),
)


def remedies_for(cause: str) -> list[str]:
    text = cause.lower()
    return list(dict.fromkeys(remedy for phrase, remedy in REMEDIES if phrase in text))


def with_remedy(message: str) -> str:
    """`message`, then "What to do: …" when its cause is a known one."""
    remedies = remedies_for(message)
    return message + ("\nWhat to do: " + "; ".join(remedies) if remedies else "")


def cause_of(error: BaseException) -> str:
    """The first line of the innermost driver error (SQLAlchemy wraps asyncpg's, which says it best)."""
    inner: BaseException = getattr(error, "orig", None) or error
    text = str(inner).strip() or type(inner).__name__
    return text.splitlines()[0]
