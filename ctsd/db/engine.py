"""Database engines for the daemon (asyncio) with the SQLite specifics in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ctsd.config import Settings

WRITE_OPTION = "cts_write"


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(settings.async_database_url,
                                     connect_args={"timeout": 30})
        _make_sqlite_writes_immediate(engine)
        return engine
    return create_async_engine(
        settings.async_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_recycle=3600,
    )


def _make_sqlite_writes_immediate(engine: AsyncEngine) -> None:
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
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


async def open_write_connection(engine: AsyncEngine) -> AsyncConnection:
    connection = await engine.connect()
    return await connection.execution_options(**{WRITE_OPTION: True})
