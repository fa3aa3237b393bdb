"""Database engines for the daemon (asyncio) with the SQLite specifics in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from ctsd import jsonio
from ctsd.config import Settings
from ctsd.db.sqlite_inline import inline_connector
from ctsd.observability.tracing import instrument_engine

WRITE_OPTION = "cts_write"
WAL_SIZE_LIMIT = 64 * 1024 * 1024

# Named here so that ctsd/api/ needs no SQLAlchemy import: the type of the read engine
# (ctsd/api/keys.py). Database errors are classified in ctsd/db/errors.py.
ReadEngine = AsyncEngine


def json_column_text(value: Any) -> str:
    """A JSON column's value as the engines store it (outbox bodies): through orjson,
    like every answer. Statements that send such a value as text use this too."""
    return jsonio.dumps(value).decode()


# PostgreSQL, for connections that run only the write path's statements: every
# statement is prepared once per connection (asyncpg) and then always planned
# generically. With the default ("auto") PostgreSQL re-planned the group lock and the
# flush at every execution, since a custom plan for the array parameters looked
# cheaper: 0.3-0.4 ms of planning in each of their binds, about a fifth of a tag's
# transaction on the server. Their generic plans are the same index lookups and
# inserts. Reads keep custom plans: a list page's plan depends on its filter's values.
GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan"}


def create_engine(settings: Settings, *,
                  server_settings: dict[str, str] | None = None) -> AsyncEngine:
    if settings.is_sqlite:
        return _sqlite_engine(settings)
    # No overflow: connections opened beyond the pool are closed again on return, and
    # under load that churn (connect, TLS probe, authenticate) cost more than waiting
    # for a pooled connection. Nothing holds two main-pool connections at once.
    return instrument_engine(create_async_engine(
        settings.async_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        pool_recycle=3600,
        json_serializer=json_column_text,
        hide_parameters=True,
        connect_args={"server_settings": server_settings} if server_settings else {},
    ))


def create_write_engine(settings: Settings) -> AsyncEngine:
    """The command bus's engine (ctsd.bootstrap): on PostgreSQL a pool of its own whose
    connections plan statements generically (GENERIC_PLANS); reads use another.

    On SQLite a pool of ONE connection, used for writes only. SQLite has one writer at a
    time; a second BEGIN IMMEDIATE waits in SQLite's busy handler, which polls with
    sleeps of up to 100 ms and serves waiters in no order: tag and create p99 at c=8
    were 700-800 ms for a few ms of work. With one connection the writers of this
    process queue in the pool's asyncio queue instead, first come first served, each
    starting as the previous one gives the connection back. Reads need an engine of
    their own (`create_engine`), or they would queue behind the writes. Writers in
    other processes (the CLI, outbox retention's own engine) still meet the busy handler.

    That connection runs its statements on the event loop's thread
    (ctsd.db.sqlite_inline) and never checkpoints in a commit: the task of
    ctsd.db.sqlite_checkpoint does, which `open_write_path` runs beside it.
    """
    if not settings.is_sqlite:
        return create_engine(settings, server_settings=GENERIC_PLANS)
    return _sqlite_engine(settings, writer=True, poolclass=AsyncAdaptedQueuePool,
                          pool_size=1, max_overflow=0, pool_timeout=60,
                          async_creator=inline_connector(settings.async_database_url))


def _sqlite_engine(settings: Settings, *, writer: bool = False, **pool: Any) -> AsyncEngine:
    # hide_parameters everywhere: an error logged with its statement must not carry the
    # caller's values (tokens, user data) into the log.
    engine = create_async_engine(settings.async_database_url, hide_parameters=True,
                                 connect_args={"timeout": 30}, json_serializer=json_column_text,
                                 **pool)
    _make_sqlite_writes_immediate(engine, writer=writer)
    return instrument_engine(engine)


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The engine for reads, sharing the pool: autocommit on PostgreSQL.

    A read then costs its queries only, not BEGIN and a ROLLBACK at check-in. The queries
    of one answer may see different snapshots (a list's total and its items may differ by
    a concurrent import); for a read API that is acceptable.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def create_allocator_engine(settings: Settings) -> AsyncEngine | None:
    """A small separate pool for respin allocation (PostgreSQL only).

    Allocation runs in its own short transaction while the import's transaction holds a
    connection of the main pool; taking both from one pool deadlocks under load, when
    every connection is held by an import waiting for a second one.
    """
    if settings.is_sqlite:
        return None
    # Each allocation is one autocommitted upsert: one round trip, no BEGIN/COMMIT. It
    # need not wait for the disk: the import that uses the respin commits synchronously
    # afterwards, and that WAL flush includes this earlier record.
    return instrument_engine(create_async_engine(
        settings.async_database_url, pool_size=4, max_overflow=0, pool_recycle=3600,
        isolation_level="AUTOCOMMIT", hide_parameters=True,
        connect_args={"server_settings": {"synchronous_commit": "off", **GENERIC_PLANS}},
    ))


def _make_sqlite_writes_immediate(engine: AsyncEngine, *, writer: bool) -> None:
    # SQLite upgrades a deferred read transaction to a write lazily and then fails with
    # "database is locked" when two writers race. Write transactions therefore take the
    # write lock up front (BEGIN IMMEDIATE); reads keep a plain BEGIN. WAL lets readers
    # run beside the one writer.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if writer:
            # Checkpoints run beside the writes (ctsd.db.sqlite_checkpoint), and the
            # WAL grows past SQLite's 1,000 pages until one lets it start again from
            # its beginning (at most RESTART_FRAMES there); the file is then cut back
            # to WAL_SIZE_LIMIT rather than keeping its largest size.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


async def open_write_connection(engine: AsyncEngine) -> AsyncConnection:
    connection = await engine.connect()
    if engine.dialect.name != "sqlite":
        # Only SQLite's BEGIN reads the option; setting it costs a greenlet switch in
        # every write transaction (one per group of imports or tags on PostgreSQL).
        return connection
    return await connection.execution_options(**{WRITE_OPTION: True})


def insert_for(dialect: str) -> Any:
    """The dialect's `insert`, which has ON CONFLICT (PostgreSQL and SQLite alike)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def upsert_insert(conn: AsyncConnection, table: Any) -> Any:
    """INSERT that supports ON CONFLICT on both PostgreSQL and SQLite."""
    return insert_for(conn.dialect.name)(table)
