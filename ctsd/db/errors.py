"""What a database failure means for the caller, decided in one place for HTTP, the bus
and the CLI: the database is away (retry later: 503 / wait), or it refused a value (the
caller's input: 400 / dead letter). Everything else is a bug."""

from __future__ import annotations

import sys

import asyncpg
from sqlalchemy import exc as sa_exc

# PostgreSQL SQLSTATE classes that are about the server, not the statement: connection
# exception, bad credentials, no such database, out of resources, shutting down or
# starting up, system error. The database is "away" for all of them (a wrong setting
# too): a request must be retried later, a bus message must wait.
_OUTAGE_SQLSTATE_CLASSES = {"08", "28", "3D", "53", "57", "58"}
# Class 22: data exception (out of range, invalid text representation, bad encoding...).
_DATA_SQLSTATE_CLASS = "22"

# How long a client is told to wait before retrying during an outage (Retry-After).
RETRY_AFTER_SECONDS = 5

UNAVAILABLE_MESSAGE = "The database is unavailable; retry later"
DATA_ERROR_MESSAGE = "A value in the request is out of range or malformed"


def _sqlstate(exc: BaseException) -> str:
    for candidate in (exc, getattr(exc, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


def _driver_errors(exc: BaseException) -> list[BaseException]:
    """The exception, the driver's own one inside it, and what that one was raised from."""
    found = [exc]
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        found.append(orig)
    found.extend(e.__cause__ for e in list(found) if e.__cause__ is not None)
    return found


def is_outage(exc: BaseException) -> bool:
    """True when the failure says nothing about the request: the database is away
    (refused or lost connection, pool exhausted, shutting down or starting up)."""
    if is_data_error(exc):
        return False  # asyncpg's DataError is also an InterfaceError
    # The driver's own error too: a statement sent on the driver (ctsd.db.driver_rows)
    # that finds its connection closed raises SQLAlchemy's asyncpg adapter's error,
    # which is no sa_exc class, from asyncpg's.
    if any(isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError
                      | sa_exc.TimeoutError | OSError | TimeoutError | asyncpg.InterfaceError
                      | asyncpg.PostgresConnectionError)
           for error in _driver_errors(exc)):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return _sqlstate(exc)[:2] in _OUTAGE_SQLSTATE_CLASSES


def is_data_error(exc: BaseException) -> bool:
    """True when the database (or its driver) refused a value the caller sent."""
    if isinstance(exc, sa_exc.DataError):
        return True
    # asyncpg refuses some values before sending them (an int past 32 bits, text it
    # cannot encode): its DataError, which SQLAlchemy wraps without a SQLSTATE.
    if any(isinstance(e, asyncpg.DataError | UnicodeEncodeError)
           for e in _driver_errors(exc)):
        return True
    return (isinstance(exc, sa_exc.DBAPIError | asyncpg.PostgresError)
            and _sqlstate(exc)[:2] == _DATA_SQLSTATE_CLASS)


# sysexits.h EX_TEMPFAIL: a script may retry the same command later.
EXIT_TEMPFAIL = 75


def database_failure_exit(exc: BaseException) -> int | None:
    """For a CLI: print what went wrong (no traceback) and return the exit status, or
    None if `exc` is not a database failure (then it is a bug: let it raise)."""
    if is_outage(exc):
        print(f"ctsd: {UNAVAILABLE_MESSAGE} ({type(exc).__name__})", file=sys.stderr)
        return EXIT_TEMPFAIL
    if is_data_error(exc):
        print(f"ctsd: {DATA_ERROR_MESSAGE}", file=sys.stderr)
        return 1
    return None
