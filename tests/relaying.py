"""For relay tests: a real RabbitMQ queue to watch what CTS publishes, a command bus
with a chosen topic prefix to make CTS write events, and a look at the outbox."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from sqlalchemy import create_engine, event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.bootstrap import roles_from
from ctsd.config import Settings
from ctsd.db.engine import create_allocator_engine, create_write_engine
from ctsd.db.engine import create_engine as create_async_engine
from ctsd.db.respins import respins_for
from ctsd.db.tables import outbox
from ctsd.service import CommandBus
from handlers.identity import Actor, Roles
from tests.conftest import service_missing

AMQP_URL = os.environ.get("CTS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
EXCHANGE = "amq.topic"
TIMEOUT = 30.0
ADMIN = Actor("admin", superuser=True)


@dataclass
class Received:
    routing_key: str
    properties: pika.BasicProperties
    body: bytes

    @property
    def message_id(self) -> str:
        return self.properties.message_id


class BoundQueue:
    """An exclusive queue bound to everything under one topic prefix."""

    def __init__(self, prefix: str) -> None:
        try:
            self._connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        except pika.exceptions.AMQPConnectionError as exc:
            # pika's connection errors have an empty str(); the repr says what failed.
            service_missing("RabbitMQ", RuntimeError(f"{AMQP_URL}: {exc!r}"))
        self._channel = self._connection.channel()
        self.name = self._channel.queue_declare("", exclusive=True).method.queue
        self._channel.queue_bind(self.name, EXCHANGE, routing_key=f"{prefix}#")
        self.received: list[Received] = []

    def fetch(self) -> None:
        # Called only from the test's event loop thread, one call at a time.
        while True:
            method, properties, body = self._channel.basic_get(self.name, auto_ack=True)
            if method is None:
                return
            self.received.append(Received(method.routing_key, properties, body))

    async def wait_for(self, count: int, timeout: float = TIMEOUT) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self.fetch()
            await asyncio.sleep(0.05)
        # A little longer, so that duplicates arriving late are caught too.
        await asyncio.sleep(0.3)
        self.fetch()
        return self.received

    def close(self) -> None:
        self._connection.close()


@asynccontextmanager
async def command_bus(settings: Settings) -> AsyncIterator[CommandBus]:
    engine = create_async_engine(settings)
    try:
        yield CommandBus(engine, roles_from(settings), settings.topic_prefix)
    finally:
        await engine.dispose()


def logged_statements(engine: AsyncEngine) -> list[str]:
    """Every statement the engine's connections send from now on (PostgreSQL): those
    sent on the driver itself (ctsd.db.driver_rows), which SQLAlchemy's execute events
    do not see, as asyncpg logs them, and SQLAlchemy's own, which go on prepared
    statements that asyncpg does not log."""
    statements: list[str] = []
    event.listen(engine.sync_engine, "connect",
                 lambda _dbapi, record: record.driver_connection.add_query_logger(
                     lambda logged: statements.append(logged.query)))
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda _conn, _cursor, sql, *_: statements.append(sql))
    return statements


@asynccontextmanager
async def grouping_bus(url: str, prepare: Callable[[CommandBus], Awaitable[None]]
                       ) -> AsyncIterator[tuple[CommandBus, list[str]]]:
    """A command bus with group commit (one group transaction at a time) on the write
    engine, with the respin strategy `ctsd serve` has (the separate allocator on
    PostgreSQL), the database prepared by `prepare`, and the statements the write
    engine sends from then on (PostgreSQL; none logged on SQLite)."""
    settings = Settings(database_url=url)
    engine = create_write_engine(settings)
    respins = respins_for(create_allocator_engine(settings))
    statements = logged_statements(engine) if url.startswith("postgresql") else []
    try:
        bus = CommandBus(engine, Roles(), settings.topic_prefix, respins=respins,
                         group_commit=True, group_transactions=1)
        await prepare(bus)
        statements.clear()
        yield bus, statements
    finally:
        await respins.dispose()
        await engine.dispose()


def outbox_rows(url: str) -> list[Any]:
    engine = create_engine(Settings(database_url=url).sync_database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(outbox).order_by(outbox.c.id)))
    finally:
        engine.dispose()
