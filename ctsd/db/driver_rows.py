"""A hot statement of the write path run on asyncpg itself, inside the transaction
SQLAlchemy opened.

Around a statement PostgreSQL runs in tens of microseconds, SQLAlchemy's execution layer
spends about 70 µs of CPU (the tag lookup: 111 µs against 41 µs on the driver, 3,000
runs each in one process); a statement with an expanding IN list about 120 µs (the
lock of a group's composes: 167 against 48 µs). A tag or an import runs four to six such
statements: that was a third of their CPU in the server. Here the statement is
compiled once with SQLAlchemy and sent on the very connection, in the very transaction,
that the unit of work holds, so nothing about atomicity changes.

Only where it is safe, else the usual `conn.execute`:
- on PostgreSQL, while tracing is off (a traced request should show every query);
- in a transaction SQLAlchemy began (`conn.begin()`, as every unit of work does): its
  asyncpg adapter sends BEGIN only with the first statement it runs, so when the first
  statement is one of these, BEGIN is sent here, by the adapter, first.
Errors come back as SQLAlchemy's, with the driver's error as `orig`, so that the write
path's conflict retries and outage and bad-value answers (ctsd.db.failures, errors)
treat them as they treat the usual path's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.driver_statements import DriverStatement
from ctsd.observability import tracing

# Per statement object (module constants): compiled on first use. The statement is kept
# in the value so that its id cannot be reused by another object.
_COMPILED: dict[int, tuple[Any, DriverStatement]] = {}


class DriverRow:
    """An asyncpg record read like SQLAlchemy's Row: `row.column`."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, index: int) -> Any:
        return self._record[index]


async def rows_of(conn: AsyncConnection, statement: Any, params: dict[str, Any], *,
                  last: bool = False) -> Sequence[Any]:
    """All rows of `statement` (a module-level constant) with `params`, in the
    connection's transaction; none for a statement that returns no rows.

    `last`: the transaction commits right after this statement. If nothing of it has
    been sent yet, this statement is all of it: it is sent without BEGIN, as a
    transaction of its own, and the COMMIT that follows has nothing to do (SQLAlchemy's
    adapter sends none for a transaction it never began), one round trip for what was
    three. Atomicity is the same: a single statement commits or fails as a whole."""
    driver = await _driver_in_transaction(conn, begin=not last)
    if driver is None:
        result = await conn.execute(statement, params)
        return result.all() if result.returns_rows else []  # an INSERT without RETURNING
    compiled = _compiled(statement, conn)
    try:
        if not compiled.returns_rows:
            await driver.execute(compiled.sql, *compiled.arguments(params))
            return []
        records = await driver.fetch(compiled.sql, *compiled.arguments(params))
    except asyncpg.PostgresError as error:
        raise _as_sqlalchemy_error(conn, compiled.sql, params, error) from error
    return [DriverRow(record) for record in records]


async def execute_many(conn: AsyncConnection, statement: Any,
                       rows: Sequence[dict[str, Any]]) -> None:
    """`statement` (a module-level constant) once per parameter set of `rows`, in the
    connection's transaction: one round trip, as SQLAlchemy's executemany."""
    driver = await _driver_in_transaction(conn)
    if driver is None:
        await conn.execute(statement, list(rows))
        return
    compiled = _compiled(statement, conn)
    try:
        await driver.executemany(compiled.sql, [compiled.arguments(row) for row in rows])
    except asyncpg.PostgresError as error:
        raise _as_sqlalchemy_error(conn, compiled.sql, {}, error) from error


async def _driver_in_transaction(conn: AsyncConnection, *, begin: bool = True) -> Any | None:
    """The asyncpg connection, in the transaction SQLAlchemy began on `conn` (unless not
    `begin` and nothing of it was sent yet: then outside any); None when the usual path
    must run the statement."""
    if conn.dialect.name != "postgresql" or tracing.enabled() or not conn.in_transaction():
        return None
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if not isinstance(driver, asyncpg.Connection):
        return None
    if not driver.is_in_transaction() and begin:
        # SQLAlchemy began its transaction, but its asyncpg adapter sends BEGIN only
        # with the first statement it runs. Send it now, the adapter's own way, so that
        # its COMMIT and ROLLBACK end this transaction. The adapter's method is not a
        # public one: without it, the usual path runs the statement.
        start_transaction = getattr(raw.dbapi_connection, "_start_transaction", None)
        if start_transaction is None:
            return None
        await start_transaction()
        if not driver.is_in_transaction():
            return None  # an autocommit connection: nothing to be inside of
    return driver


def _compiled(statement: Any, conn: AsyncConnection) -> DriverStatement:
    known = _COMPILED.get(id(statement))
    if known is None or known[0] is not statement:
        known = (statement, DriverStatement.compile(statement, conn.dialect))
        _COMPILED[id(statement)] = known
    return known[1]


def _as_sqlalchemy_error(conn: AsyncConnection | None, sql: str, params: dict[str, Any],
                         error: asyncpg.PostgresError) -> sa_exc.DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises for it: IntegrityError for a constraint
    (SQLSTATE class 23), else DBAPIError; the SQLSTATE is read from `orig` either way.
    Parameters stay out of its text where the engine hides them."""
    constraint = str(error.sqlstate).startswith("23")
    hide = conn is None or bool(conn.sync_engine.hide_parameters)
    return (sa_exc.IntegrityError if constraint else sa_exc.DBAPIError)(
        sql, params, error, hide_parameters=hide)
