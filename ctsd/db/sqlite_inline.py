"""SQLite's write connection, run on the event loop's own thread (issue #14).

aiosqlite runs every call of a connection in that connection's thread. One command's
write (BEGIN, about eight statements with their cursors and fetches, COMMIT) made 26
hand-overs between the event loop and that thread, each a GIL switch and a loop
wake-up, and the one write connection (ctsd.db.engine.create_write_engine) stayed
held across all of them while the loop served other requests in between. Measured
under the harness at c=8 on 2,000 composes: the connection was held 3.5 ms per write
for 0.6 ms of SQLite work, and every queued writer waits for all of that.

On this connection SQLite never waits for the disk: WAL with synchronous=NORMAL writes
to the page cache and syncs only at checkpoints, which ctsd.db.sqlite_checkpoint runs
outside the writes. Nor does it wait for a lock: its busy timeout is 0 and a lock held
by another process (the CLI, outbox retention's engine) is waited for here with
asyncio.sleep. So a statement costs microseconds and is cheaper run inline than handed
to a thread. Bulk statements (compose contents insert thousands of rows) still go to
the connection's thread, so that they do not stall every other request.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.engine import make_url

# A statement binding more values than this runs in the connection's thread.
BULK_VALUES = 1000
# How long a statement waits for another process's write lock (the busy timeout the
# other SQLite connections have), and how often it looks again meanwhile.
LOCK_TIMEOUT = 30.0
LOCK_POLL = 0.002
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_BUSY_RECOVERY})
# Calls that change nothing when they fail with SQLITE_BUSY, so they can run again.
_RETRYABLE = frozenset({"execute", "commit"})


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in the calling (event loop) thread.

    The aiosqlite thread still opens and closes the connection and runs bulk
    statements; the sqlite3 object is used by one of the two threads at a time, as
    each call is awaited before the next (check_same_thread=False)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if _is_bulk(fn, args):
            # aiosqlite's own _execute (not annotated): the connection's thread.
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        deadline: float | None = None
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if (error.sqlite_errorcode not in _BUSY_CODES
                        or getattr(fn, "__name__", "") not in _RETRYABLE):
                    raise
                now = asyncio.get_running_loop().time()
                deadline = deadline if deadline is not None else now + LOCK_TIMEOUT
                if now >= deadline:
                    raise
            await asyncio.sleep(LOCK_POLL)


def _is_bulk(function: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    name = getattr(function, "__name__", "")
    if name not in ("execute", "executemany") or len(args) < 2 or not args[1]:
        return False
    parameters = args[1]
    if name == "executemany":
        # SQLAlchemy hands executemany a list of rows.
        return len(parameters) * len(parameters[0]) > BULK_VALUES
    return len(parameters) > BULK_VALUES


def sqlite3_connector(async_url: str) -> Callable[[], sqlite3.Connection]:
    """Opens a sqlite3 connection to the database the URL names, with the arguments
    SQLAlchemy's aiosqlite dialect would use (URL query options included), no busy
    timeout, and usable from any thread."""
    cargs, cparams = aiosqlite_dialect().create_connect_args(make_url(async_url))
    (database,) = cargs
    options: dict[str, Any] = {**cparams, "timeout": 0, "check_same_thread": False}

    def connect() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **options)
        return connection

    return connect


def inline_connector(async_url: str) -> Callable[[], InlineConnection]:
    """`create_async_engine(async_creator=...)` for an InlineConnection."""
    connector = sqlite3_connector(async_url)
    return lambda: InlineConnection(connector, 64)
