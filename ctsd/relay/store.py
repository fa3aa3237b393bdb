"""Claiming unsent outbox rows and recording what became of them.

PostgreSQL: rows are claimed with `FOR UPDATE SKIP LOCKED` in a transaction that stays
open while they are published, so two relays never publish the same row at once, and
marked sent in that same transaction once the broker confirmed them. A relay that dies
mid-batch just releases its locks: the rows are published again, with the same message
id, by whichever relay comes next.

SQLite has no row locks, and holding its single write lock while waiting for a broker
would stall every HTTP write. There the rows are read without locking and marked in a
short write transaction afterwards; only one relay may run (see `ctsd.relay.runner`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ctsd.db.engine import open_write_connection
from ctsd.db.tables import outbox
from ctsd.relay.wire import OutboxRow


@dataclass
class Claim:
    """A batch of rows this relay may publish now, oldest first, and their outcomes."""

    rows: list[OutboxRow]
    # How many rows were claimed before holding back those that must wait their turn.
    claimed: int = 0
    sent_ids: list[int] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)

    def sent(self, row: OutboxRow) -> None:
        self.sent_ids.append(row.id)

    def failed(self, row: OutboxRow, error: str) -> None:
        self.failures[row.id] = error[:2000]


class OutboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._locking = engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def claim(self, limit: int, skip: Collection[int] = ()) -> AsyncIterator[Claim]:
        """Claim up to `limit` rows, leaving out the ids in `skip` (rows known to be
        unpublishable: they still hold back the later rows of their compose).

        Outcomes recorded on the Claim are saved on exit, also when publishing was
        interrupted, so that rows the broker confirmed are never published again.
        """
        query = _unsent(limit, skip)
        if self._locking:
            async with self._claim_locked(query) as claim:
                yield claim
        else:
            async with self._claim_unlocked(query) as claim:
                yield claim

    @asynccontextmanager
    async def _claim_locked(self, query: Select[Any]) -> AsyncIterator[Claim]:
        async with self._engine.connect() as conn:
            await conn.begin()
            claimed = await _select_rows(conn, query.with_for_update(skip_locked=True))
            claim = Claim(await _in_turn(conn, claimed), claimed=len(claimed))
            try:
                yield claim
            finally:
                await _record(conn, claim)
                await conn.commit()

    @asynccontextmanager
    async def _claim_unlocked(self, query: Select[Any]) -> AsyncIterator[Claim]:
        async with self._engine.connect() as conn:
            claimed = await _select_rows(conn, query)
            rows = await _in_turn(conn, claimed)
            await conn.rollback()
        claim = Claim(rows, claimed=len(claimed))
        try:
            yield claim
        finally:
            conn = await open_write_connection(self._engine)
            try:
                await conn.begin()
                await _record(conn, claim)
                await conn.commit()
            finally:
                await conn.close()


def _unsent(limit: int, skip: Collection[int]) -> Select[Any]:
    query = (select(outbox.c.id, outbox.c.message_id, outbox.c.topic, outbox.c.body,
                    outbox.c.ordering_key, outbox.c.in_reply_to, outbox.c.traceparent)
             .where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id).limit(limit))
    return query.where(outbox.c.id.not_in(skip)) if skip else query


async def _select_rows(conn: AsyncConnection, query: Select[Any]) -> list[OutboxRow]:
    return [OutboxRow(id=r.id, message_id=r.message_id, topic=r.topic, body=r.body,
                      ordering_key=r.ordering_key, in_reply_to=r.in_reply_to,
                      traceparent=r.traceparent)
            for r in await conn.execute(query)]


async def _in_turn(conn: AsyncConnection, claimed: list[OutboxRow]) -> list[OutboxRow]:
    """Drop claimed rows that an older unsent row of the same compose must precede.

    SKIP LOCKED skips rows another relay is publishing right now; the rows after them
    for the same compose are claimable, and publishing them would overtake. They wait:
    once the other relay commits, the older rows are sent and these come next time.
    Rows left out as unpublishable hold back their compose the same way.
    """
    keys = {row.ordering_key for row in claimed if row.ordering_key is not None}
    if not keys:
        return claimed
    claimed_ids = {row.id for row in claimed}
    # Not locking: it sees rows other relays hold, which is the point.
    older = await conn.execute(
        select(outbox.c.id, outbox.c.ordering_key)
        .where(outbox.c.sent_at.is_(None), outbox.c.ordering_key.in_(keys),
               outbox.c.id < max(claimed_ids))
    )
    first_foreign: dict[str, int] = {}
    for row_id, key in older:
        if row_id not in claimed_ids:
            first_foreign[key] = min(row_id, first_foreign.get(key, row_id))
    return [row for row in claimed
            if row.ordering_key not in first_foreign or row.id < first_foreign[row.ordering_key]]


async def _record(conn: AsyncConnection, claim: Claim) -> None:
    now = datetime.now(UTC)
    if claim.sent_ids:
        await conn.execute(update(outbox).where(outbox.c.id.in_(claim.sent_ids))
                           .values(sent_at=now, attempts=outbox.c.attempts + 1))
    for row_id, error in claim.failures.items():
        await conn.execute(update(outbox).where(outbox.c.id == row_id)
                           .values(attempts=outbox.c.attempts + 1, last_error=error))
