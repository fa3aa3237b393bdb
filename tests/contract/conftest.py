"""One unit-of-work contract, four implementations: the in-memory fake the handler tests
use, and the SQL unit of work on SQLite, on PostgreSQL with in-transaction respins, and
on PostgreSQL with the separate respin allocator `ctsd serve` and `ctsd consume` use.

A contract test runs the same steps on each (`Backend.run`: one unit of work, committed
when the steps return) and asserts the same answers, so the fake cannot drift from what
the database does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.db.engine import create_allocator_engine, create_engine
from ctsd.db.representation import answer_of, representation_of
from ctsd.db.respins import InTransactionRespins, RespinAllocator, respins_for
from ctsd.db.tables import outbox
from ctsd.db.uow import SqlUnitOfWork
from ctsd.jsonio import StoredJson
from tests.conftest import PG_URL_BASE, create_pg_database, drop_pg_database
from tests.unit.fakes import FakeDatabase, FakeIntegrityError, FakeUnitOfWork

T = TypeVar("T")
Work = Callable[[Any], Awaitable[T]]


class Backend:
    """What a contract test needs of an implementation."""

    name: str
    integrity_errors: tuple[type[Exception], ...]

    async def run(self, work: Work[T]) -> T:
        raise NotImplementedError

    async def read_representation(self, compose_id: str) -> dict[str, Any] | None:
        """The representation as a reader outside any unit of work sees it."""
        raise NotImplementedError

    async def committed_events(self) -> list[tuple[str, dict[str, Any], str | None]]:
        """(event, body, ordering key) of the outbox, oldest first."""
        raise NotImplementedError


class FakeBackend(Backend):
    name = "fake"
    integrity_errors = (FakeIntegrityError,)

    def __init__(self) -> None:
        self.db = FakeDatabase()

    async def run(self, work: Work[T]) -> T:
        uow = FakeUnitOfWork(self.db)
        result = await work(uow)
        uow.commit()
        return result

    async def read_representation(self, compose_id: str) -> dict[str, Any] | None:
        async def read(uow: FakeUnitOfWork) -> dict[str, Any] | None:
            ref = await uow.composes.lock(compose_id)
            return None if ref is None else await uow.composes.representation(ref.pk)
        return await self.run(read)

    async def committed_events(self) -> list[tuple[str, dict[str, Any], str | None]]:
        return [(e.event, e.body, e.ordering_key) for e in self.db.outbox]


class SqlBackend(Backend):
    integrity_errors = (IntegrityError,)

    def __init__(self, name: str, engine: AsyncEngine, respins: RespinAllocator) -> None:
        self.name, self.engine, self.respins = name, engine, respins

    async def run(self, work: Work[T]) -> T:
        async with SqlUnitOfWork(self.engine, "cts.", respins=self.respins) as uow:
            result = await work(uow)
            await uow.commit()
            return result

    async def read_representation(self, compose_id: str) -> dict[str, Any] | None:
        """What GET answers, held to the representation built live from the tables:
        every contract test then also checks the answer stored with the compose."""
        async with self.engine.connect() as conn:
            answer = await answer_of(conn, compose_id)
            live = await representation_of(conn, compose_id)
        if isinstance(answer, StoredJson):
            assert answer.value() == live, f"stored answer of {compose_id} is stale"
            return live
        assert answer == live
        return live

    async def committed_events(self) -> list[tuple[str, dict[str, Any], str | None]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(outbox).order_by(outbox.c.id))
            return [(row.topic.removeprefix("cts."), row.body, row.ordering_key)
                    for row in rows]


@pytest.fixture(params=["fake", "sqlite", "postgresql", "postgresql-allocator"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "fake":
        yield FakeBackend()
        return
    if request.param == "sqlite":
        url, name = f"sqlite:///{tmp_path / 'cts.sqlite'}", None
        migrate.upgrade(Settings(database_url=url))
    else:
        name = create_pg_database(request.getfixturevalue("pg_template"))
        url = f"{PG_URL_BASE}/{name}"
    settings = Settings(database_url=url)
    engine = create_engine(settings)
    allocator = create_allocator_engine(settings) if request.param.endswith("allocator") else None
    respins = respins_for(allocator) if allocator is not None else InTransactionRespins()
    try:
        yield SqlBackend(request.param, engine, respins)
    finally:
        await engine.dispose()
        await respins.dispose()
        if name is not None:
            drop_pg_database(name)
