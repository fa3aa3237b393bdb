"""The event feed: `GET /api/1/events/`, the outbox read as a journal of changes.

Clients page with an opaque cursor: `?after=<cursor>` answers the events after it, and
`next` is where to continue. The live variant (Server-Sent Events) is in
ctsd/api/event_stream.py and reads through `read_events` (ctsd/db/queries/events.py).

The feed serves every committed event, whether or not the relay has published it to the
broker yet: the outbox row is the event, the broker only one way to deliver it. So the
feed works without a broker, and a consumer that catches up from it misses nothing the
bus has not delivered yet. Published rows are deleted after `outbox_retention_days`
(ctsd/outbox_retention.py): a cursor older than that skips what was deleted.

The commit-safe order and its SQL are explained in ctsd/db/queries/events.py.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ctsd.api.keys import READ_ENGINE
from ctsd.api.responses import json_response
from ctsd.db.queries.events import START, Cursor, FeedEvent, read_events
from handlers.errors import InvalidInput
from handlers.timeformat import iso_utc

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_MAX_BIGINT = 2**63 - 1
_CURSOR = re.compile(r"([0-9]{1,19}):([0-9]{1,19})")
_LIMIT = re.compile(r"[0-9]{1,4}")


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


def event_json(event: FeedEvent) -> dict[str, Any]:
    return {"cursor": str(event.cursor), "message_id": event.message_id,
            "topic": event.topic, "body": event.body,
            "created_at": iso_utc(event.created_at), "in_reply_to": event.in_reply_to,
            "traceparent": event.traceparent}


async def list_events(request: web.Request) -> web.Response:
    after = parse_cursor(request.query.get("after"))
    limit = parse_limit(request.query.get("limit"))
    events = await read_events(request.app[READ_ENGINE], after, limit)
    return json_response({"events": [event_json(event) for event in events],
                          "next": str(events[-1].cursor if events else after)})
