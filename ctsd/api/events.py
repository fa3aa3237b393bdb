"""The event feed: `GET /api/1/events/`, the outbox read as a journal of changes.

Clients page with an opaque cursor: `?after=<cursor>` answers the events after it, and
`next` is where to continue. The live variant (Server-Sent Events) is in
ctsd/api/event_stream.py and reads through `read_events` below.

The feed serves every committed event, whether or not the relay has published it to the
broker yet: the outbox row is the event, the broker only one way to deliver it. So the
feed works without a broker, and a consumer that catches up from it misses nothing the
bus has not delivered yet. Published rows are deleted after `outbox_retention_days`
(ctsd/outbox_retention.py): a cursor older than that skips what was deleted.

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

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import BigInteger, Select, Text, cast, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.api.keys import READ_ENGINE
from ctsd.api.timeformat import iso_utc
from ctsd.db.tables import outbox
from ctsd.jsonio import json_response
from handlers.errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_MAX_BIGINT = 2**63 - 1
_CURSOR = re.compile(r"([0-9]{1,19}):([0-9]{1,19})")
_LIMIT = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the feed: (feed_xid, id) of the last event seen; xid 0 on SQLite."""

    xid: int
    id: int

    def __str__(self) -> str:
        return f"{self.xid}:{self.id}"


START = Cursor(0, 0)


def parse_cursor(text: str | None) -> Cursor:
    """The cursor a client sent; empty or "0" is the start of the feed."""
    if text is None or text.strip() in ("", "0"):
        return START
    match = _CURSOR.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"Invalid cursor {text[:100]!r}: use the 'cursor' or 'next' "
                           "value of an earlier answer, or 0 for the start")
    xid, row_id = int(match[1]), int(match[2])
    if xid > _MAX_BIGINT or row_id > _MAX_BIGINT:
        raise InvalidInput(f"Invalid cursor {text[:100]!r}: out of range")
    return Cursor(xid, row_id)


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not _LIMIT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


@dataclass(frozen=True)
class FeedEvent:
    cursor: Cursor
    message_id: str
    topic: str
    body: Any
    created_at: datetime
    in_reply_to: str | None
    traceparent: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"cursor": str(self.cursor), "message_id": self.message_id,
                "topic": self.topic, "body": self.body,
                "created_at": iso_utc(self.created_at), "in_reply_to": self.in_reply_to,
                "traceparent": self.traceparent}


_COLUMNS = (outbox.c.id, outbox.c.feed_xid, outbox.c.message_id, outbox.c.topic,
            outbox.c.body, outbox.c.created_at, outbox.c.in_reply_to, outbox.c.traceparent)


def feed_query(dialect: str, after: Cursor, limit: int) -> Select:
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


async def list_events(request: web.Request) -> web.Response:
    after = parse_cursor(request.query.get("after"))
    limit = parse_limit(request.query.get("limit"))
    events = await read_events(request.app[READ_ENGINE], after, limit)
    return json_response({"events": [event.as_json() for event in events],
                          "next": str(events[-1].cursor if events else after)})
