"""The outbox read as a journal of changes, in commit-safe order (the event feed of
ctsd/api/events.py and ctsd/api/event_stream.py).

Commit-safe order (PostgreSQL). Row ids are handed out at insert, but transactions
commit in any order: after "id > cursor" served row 6, a transaction still open with
row 5 would commit and row 5 would never be served. Filtering on the rows' own
transaction ids (serve only rows whose transaction is older than every running one)
is not enough either, since a transaction may take its id early and its row id late.
Instead each row records `feed_xid` (migration 0004): the greater of its transaction's
id and the latest transaction id that had ended when it was written. The feed orders by
(feed_xid, id) and serves only rows with feed_xid below `xmin`, the oldest transaction
still running, taken from the same snapshot that reads the rows. Why nothing is skipped:
a row that becomes visible later belongs to a transaction running now (or not yet
begun), whose id is at least xmin, so its feed_xid is too: it sorts after every row
served now. Why changes of one compose keep their order: such changes are serialised by
a row lock, so the later one writes its row after the earlier one committed, when the
latest ended transaction id is already at least the earlier one's; and its row id is
higher. The price is latency: an event waits until every transaction with an older id,
in the whole PostgreSQL cluster, has ended; keep writing transactions short.

SQLite has one writer at a time, so ids commit in order and the feed goes by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Select, Text, cast, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.db.tables import outbox


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the feed: (feed_xid, id) of the last event seen; xid 0 on SQLite."""

    xid: int
    id: int

    def __str__(self) -> str:
        return f"{self.xid}:{self.id}"


START = Cursor(0, 0)


@dataclass(frozen=True)
class FeedEvent:
    cursor: Cursor
    message_id: str
    topic: str
    body: Any
    created_at: datetime
    in_reply_to: str | None
    traceparent: str | None = None


_COLUMNS = (outbox.c.id, outbox.c.feed_xid, outbox.c.message_id, outbox.c.topic,
            outbox.c.body, outbox.c.created_at, outbox.c.in_reply_to, outbox.c.traceparent)


def feed_query(dialect: str, after: Cursor, limit: int) -> Select[Any]:
    """Up to `limit` events after `after` that no later commit can precede."""
    if dialect != "postgresql":
        return select(*_COLUMNS).where(outbox.c.id > after.id).order_by(outbox.c.id).limit(limit)
    # A scalar subquery: evaluated once, from the statement's own snapshot, and usable
    # as a bound of the (feed_xid, id) index scan.
    oldest_running = select(
        cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
    ).scalar_subquery()
    position = tuple_(outbox.c.feed_xid, outbox.c.id)
    return (
        select(*_COLUMNS)
        .where(position > tuple_(literal(after.xid, BigInteger), literal(after.id, BigInteger)),
               outbox.c.feed_xid < oldest_running)
        .order_by(outbox.c.feed_xid, outbox.c.id)
        .limit(limit)
    )


async def read_events(engine: AsyncEngine, after: Cursor, limit: int) -> list[FeedEvent]:
    """Events after `after`, oldest first. One statement, so one snapshot (see above)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(feed_query(engine.dialect.name, after, limit))).all()
    return [FeedEvent(Cursor(row.feed_xid or 0, row.id), row.message_id, row.topic, row.body,
                      row.created_at, row.in_reply_to, row.traceparent) for row in rows]
