"""What a database error means for the caller: run the transaction again at once
(`is_transient`), or wait because the database is away (`is_database_outage`).

Both read the PostgreSQL SQLSTATE the same way; the write path retries the first, the
bus consumer waits out the second instead of dead-lettering a message.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

# Serialization failure and deadlock: the same transaction may well succeed now.
_RETRY_SQLSTATES = {"40001", "40P01"}
# SQLSTATE classes about the server, not the statement: connection exception, bad
# credentials, no such database, out of resources, shutting down or starting up, system
# error. The database is "away" for all of them (a wrong setting too).
_OUTAGE_SQLSTATE_CLASSES = {"08", "28", "3D", "53", "57", "58"}


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


def is_database_outage(exc: BaseException) -> bool:
    """True for failures that say the database is away, not that a statement is wrong."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or sqlstate(exc)[:2] in _OUTAGE_SQLSTATE_CLASSES
