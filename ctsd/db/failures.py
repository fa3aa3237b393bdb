"""Whether a database error means "run the same transaction again at once"
(`is_transient`, the write path's retry policy). Whether the database is away, or
refused a value, is decided in ctsd/db/errors.py.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError

# Serialization failure and deadlock: the same transaction may well succeed now.
_RETRY_SQLSTATES = {"40001", "40P01"}


def sqlstate(exc: DBAPIError) -> str:
    """The driver's SQLSTATE of a database error ("" when it has none)."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return str(code or "")


def is_transient(exc: BaseException) -> bool:
    """True when running the same transaction again is the answer. IntegrityError covers
    two callers creating one unique thing at once: the second attempt then sees the
    first one's row and answers properly."""
    if isinstance(exc, IntegrityError):
        return True
    if isinstance(exc, DBAPIError):
        return (exc.connection_invalidated or sqlstate(exc) in _RETRY_SQLSTATES
                or "database is locked" in str(exc.orig))
    return False
