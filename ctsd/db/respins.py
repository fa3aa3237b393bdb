"""How an import gets its respin: the dialect's strategy, chosen once by ctsd.bootstrap.

Both strategies also claim the import's kept answer (ctsd.db.kept_answers) when the
command bus armed one: claiming at allocation time is equivalent to claiming before the
import (nothing is written before allocation) and, on PostgreSQL, costs no statement of
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ctsd import jsonio
from ctsd.db import kept_answers
from ctsd.db.compose_statements import statements
from ctsd.db.driver_statements import DriverStatement, driver_pool
from ctsd.db.engine import GENERIC_PLANS
from ctsd.db.respin_batches import BATCH_ALLOCATION, WantedRespin, batch_arguments
from ctsd.db.respin_release import unused_counter_deletion
from ctsd.db.tables import respin_counters
from ctsd.observability import tracing


@dataclass(frozen=True)
class Allocation:
    """A respin, or (respin None) the kept answer claimed instead of allocating one.
    With a respin, on PostgreSQL's separate allocator, also the pk the new compose row
    is to have (compose_statements.COMPOSE_PK); else None, and its INSERT takes one."""

    respin: int | None
    kept_answer: Any | None = None
    pk: int | None = None


@dataclass
class AllocatedAhead:
    """An import's allocation made before its transaction, on the separate allocator
    (ctsd.allocations_ahead, so that a group's transaction does not wait for its
    imports' allocations one after another). The compose store uses it instead of
    allocating when the import asks for this stream and respin; `taken` while a
    transaction holds it: one that rolls back frees it again for the command's next
    try (ctsd.db.import_allocations), and one that commits keeps it. The command bus
    gives back one no transaction kept (ctsd.allocations_ahead).

    `predicted`: not allocated but predicted (ctsd.respin_predictions), with no pk; the
    group's commit statement allocates it (ctsd.db.predicted_imports)."""

    stream: str
    requested: int
    allocation: Allocation
    taken: bool = False
    predicted: bool = False

    def take(self, stream: str, requested: int) -> Allocation | None:
        if self.taken or (stream, requested) != (self.stream, self.requested):
            return None
        self.taken = True
        return self.allocation


class RespinAllocator(Protocol):
    async def allocate(self, conn: AsyncConnection, stream: str, requested: int,
                       kept: dict[str, Any] | None) -> Allocation:
        """The stream's next respin (`requested` if above the last one), unless `kept`
        (KeptAnswerClaim.parameters) names a kept answer: then that answer."""
        ...

    async def release(self, allocated: list[tuple[str, int]]) -> None:
        """Give back respins of an import that rolled back, where still possible."""
        ...

    async def dispose(self) -> None:
        """Close what the strategy opened (connections, pools)."""
        ...


class InTransactionRespins:
    """SQLite: one writer at a time anyway, so the counter is bumped in the import's
    own transaction and rolls back with it."""

    async def allocate(self, conn: AsyncConnection, stream: str, requested: int,
                       kept: dict[str, Any] | None) -> Allocation:
        if kept is not None:
            answer = await kept_answers.claim(conn, kept)
            if answer is not None:
                return Allocation(None, answer)
        bump = statements(conn.dialect.name).bump_counter
        respin = (await conn.execute(bump, {"stream": stream, "requested": requested}))
        return Allocation(respin.scalar_one())

    async def release(self, allocated: list[tuple[str, int]]) -> None:
        pass  # the counter rolled back with the import's transaction

    async def dispose(self) -> None:
        pass  # nothing of its own


class SeparateTransactionRespins:
    """PostgreSQL: bump the counter in its own short autocommitted statement on a small
    pool of its own (ctsd.db.engine.create_allocator_engine).

    Inside the import's transaction the counter row would stay locked until that commit,
    so concurrent imports of one stream would queue for whole transactions; here they
    queue for one statement. If the import then fails, its respin is given back.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        sql = statements("postgresql")
        self._bump = DriverStatement.compile(sql.bump_counter_taking_pk, engine.dialect)
        self._claim_then_bump = DriverStatement.compile(sql.claim_then_bump, engine.dialect)
        self._pool: asyncpg.Pool | None = None

    async def allocate(self, conn: AsyncConnection | None, stream: str, requested: int,
                       kept: dict[str, Any] | None) -> Allocation:
        params = {"stream": stream, "requested": requested, **(kept or {})}
        claim = kept is not None
        if tracing.enabled():  # on SQLAlchemy, which tracing instruments: a span of its own
            row = await self._allocate_on_sqlalchemy(params, claim=claim)
        else:
            try:
                row = await self._allocate_on_the_driver(params, claim=claim)
            except Exception:
                # Taken again the usual way, whose errors the write path knows (an
                # outage is a 503, a conflict is retried). A bump that did commit
                # before the failure leaves a gap, as a crash there would.
                row = await self._allocate_on_sqlalchemy(params, claim=claim)
        if kept is not None and row["kept"] is not None:
            return Allocation(None, jsonio.loads(row["kept"]))
        return Allocation(row["respin"] if kept is not None else row["last_respin"],
                          pk=row["pk"])

    async def allocate_batch(self, wanted: list[WantedRespin]) -> list[Allocation | Exception]:
        """Several imports' allocations, one stream each, in one statement
        (ctsd.db.respin_batches), outside any transaction; if that statement fails, each
        the usual way, with its own allocation or error."""
        try:
            pool = await self._driver_pool()
            rows = await pool.fetch(BATCH_ALLOCATION, *batch_arguments(wanted))
        except Exception:
            rows = None
        if rows is not None:
            return [Allocation(None, jsonio.loads(row["kept"])) if row["kept"] is not None
                    else Allocation(row["respin"], pk=row["pk"]) for row in rows]
        results: list[Allocation | Exception] = []
        for item in wanted:
            try:
                results.append(await self.allocate(None, item.stream, item.requested,
                                                   item.kept))
            except Exception as exc:
                results.append(exc)
        return results

    async def _driver_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await driver_pool(self.engine.url, 4,
                                           {"synchronous_commit": "off", **GENERIC_PLANS})
        return self._pool

    async def _allocate_on_the_driver(self, params: dict[str, Any], *, claim: bool) -> Any:
        """The allocation on asyncpg's pool (ctsd.db.driver_statements): a third of an
        import's CPU went to SQLAlchemy's pool and execution layer around it."""
        pool = await self._driver_pool()
        statement = self._claim_then_bump if claim else self._bump
        return await pool.fetchrow(statement.sql, *statement.arguments(params))

    async def _allocate_on_sqlalchemy(self, params: dict[str, Any], *, claim: bool) -> Any:
        sql = statements("postgresql")
        async with self.engine.connect() as own:
            result = await own.execute(
                sql.claim_then_bump if claim else sql.bump_counter_taking_pk, params)
            return result.one()._mapping

    async def release(self, allocated: list[tuple[str, int]]) -> None:
        # Only a respin that is still the stream's last can be given back; if a later
        # import took the next one meanwhile, it stays unused (a gap, after a failure).
        # Newest first: several imports of one stream in one transaction give back all.
        counter = respin_counters.c.last_respin
        async with self.engine.connect() as conn:
            for stream, respin in reversed(allocated):
                await conn.execute(
                    update(respin_counters)
                    .where(respin_counters.c.stream == stream, counter == respin)
                    .values(last_respin=respin - 1)
                )
            # A counter these imports created for a stream with no compose yet goes too:
            # a refused import leaves nothing behind. Per stream, once all is given back.
            for stream, lowest in _lowest_respins(allocated).items():
                deletion = unused_counter_deletion(stream, lowest - 1)
                if deletion is not None:
                    await conn.execute(deletion)

    async def dispose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        await self.engine.dispose()


def _lowest_respins(allocated: list[tuple[str, int]]) -> dict[str, int]:
    lowest: dict[str, int] = {}
    for stream, respin in allocated:
        lowest[stream] = min(respin, lowest.get(stream, respin))
    return lowest


def respins_for(allocator: AsyncEngine | None) -> RespinAllocator:
    # A process killed between allocation and commit cannot give its respins back: with
    # separate transactions that leaves a gap. ctsd.bootstrap therefore gives the bus
    # consumer in-transaction respins (tests/e2e/test_bus_resilience.py).
    """The strategy for a deployment: separate transactions where there is an
    allocator pool (PostgreSQL), else in the import's transaction."""
    return InTransactionRespins() if allocator is None else SeparateTransactionRespins(allocator)
