"""The SQL unit of work: one transaction per command, events go to the outbox in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ctsd.db.engine import open_write_connection
from ctsd.db.stores import SqlComposeStore, SqlTagStore
from ctsd.db.tables import outbox

OUTBOX_CHANNEL = "cts_outbox"


def utcnow() -> datetime:
    return datetime.now(UTC)


class SqlUnitOfWork:
    """Use as `async with SqlUnitOfWork(...) as uow:`; commit with `await uow.commit()`.

    Leaving the block without commit rolls everything back, events included.
    """

    def __init__(self, engine: AsyncEngine, topic_prefix: str,
                 in_reply_to: str | None = None) -> None:
        self._engine = engine
        self._topic_prefix = topic_prefix
        self._in_reply_to = in_reply_to
        self._conn: AsyncConnection | None = None
        self._emitted = 0
        self._now = utcnow()
        self.emitted_message_ids: list[str] = []

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None, "unit of work used outside `async with`"
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        self._conn = await open_write_connection(self._engine)
        await self._conn.begin()
        self.composes = SqlComposeStore(self._conn, self.now)
        self.tags = SqlTagStore(self._conn, self.now)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None

    def now(self) -> datetime:
        # One timestamp per command: its history rows and events agree on "when".
        return self._now

    async def emit(self, event: str, body: dict[str, Any], ordering_key: str | None) -> None:
        message_id = str(uuid.uuid4())
        await self.connection.execute(outbox.insert().values(
            message_id=message_id, topic=self._topic_prefix + event, body=body,
            ordering_key=ordering_key, in_reply_to=self._in_reply_to,
            created_at=self._now, attempts=0,
        ))
        self._emitted += 1
        self.emitted_message_ids.append(message_id)

    async def commit(self) -> None:
        conn = self.connection
        if self._emitted and conn.dialect.name == "postgresql":
            # Delivered at commit: relays LISTENing wake up at once instead of polling.
            await conn.execute(text("SELECT pg_notify(:channel, '')"),
                               {"channel": OUTBOX_CHANNEL})
        await conn.commit()
