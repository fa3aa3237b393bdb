"""How an import gets its respin: the dialect's strategy, chosen once by ctsd.bootstrap.

Both strategies also claim the import's kept answer (ctsd.db.kept_answers) when the
command bus armed one: claiming at allocation time is equivalent to claiming before the
import (nothing is written before allocation) and, on PostgreSQL, costs no statement of
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ctsd import jsonio
from ctsd.db import kept_answers
from ctsd.db.compose_statements import statements
from ctsd.db.respin_release import unused_counter_deletion
from ctsd.db.tables import respin_counters


@dataclass(frozen=True)
class Allocation:
    """A respin, or (respin None) the kept answer claimed instead of allocating one."""

    respin: int | None
    kept_answer: Any | None = None


class RespinAllocator(Protocol):
    async def allocate(self, conn: AsyncConnection, stream: str, requested: int,
                       kept: dict[str, Any] | None) -> Allocation:
        """The stream's next respin (`requested` if above the last one), unless `kept`
        (KeptAnswerClaim.parameters) names a kept answer: then that answer."""
        ...

    async def release(self, allocated: list[tuple[str, int]]) -> None:
        """Give back respins of an import that rolled back, where still possible."""
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


class SeparateTransactionRespins:
    """PostgreSQL: bump the counter in its own short autocommitted statement on a small
    pool of its own (ctsd.db.engine.create_allocator_engine).

    Inside the import's transaction the counter row would stay locked until that commit,
    so concurrent imports of one stream would queue for whole transactions; here they
    queue for one statement. If the import then fails, its respin is given back.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def allocate(self, conn: AsyncConnection, stream: str, requested: int,
                       kept: dict[str, Any] | None) -> Allocation:
        sql = statements("postgresql")
        params = {"stream": stream, "requested": requested}
        async with self.engine.connect() as own:
            if kept is None:
                return Allocation((await own.execute(sql.bump_counter, params)).scalar_one())
            row = (await own.execute(sql.claim_then_bump, {**params, **kept})).one()
        if row.kept is not None:
            return Allocation(None, jsonio.loads(row.kept))
        return Allocation(row.respin)

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
