"""The live event feed: `GET /api/1/events/stream`, as Server-Sent Events.

Each event is `id: <cursor>`, `event: <topic>`, `data: <JSON body>`, in the order and
with the cursors of `GET /api/1/events/` (ctsd/api/events.py). A client that reconnects
sends the last id it saw as `Last-Event-ID` (browsers' EventSource does so by itself)
and continues after it; without one, `?after=<cursor>` says where to start.

A stream looks for new events at once when PostgreSQL NOTIFYs `cts_outbox` (the outbox
trigger of migration 0003; one listening connection per process serves every stream),
and every second in any case: a notification can be lost while reconnecting, and an
event held back for commit order (see events.py) becomes servable without one. While
nothing happens, a comment line every 15 s keeps proxies from closing the connection.
A stream ends when the client goes away, on a database error (the client reconnects
and resumes), and at once when the server shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiohttp import web

from ctsd.api.events import parse_cursor
from ctsd.api.keys import READ_ENGINE, SETTINGS
from ctsd.api.requests import client_gone
from ctsd.db.engine import ReadEngine
from ctsd.db.queries.events import Cursor, FeedEvent, read_events
from ctsd.db.uow import OUTBOX_CHANNEL
from ctsd.jsonio import dumps
from ctsd.relay.wakeup import asyncpg_dsn

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0
HEARTBEAT_INTERVAL = 15.0
BATCH_SIZE = 100
RECONNECT_DELAY_MS = 3000
LISTEN_RETRY_INTERVAL = 30.0  # after a failed LISTEN, streams poll meanwhile


class EventStreams:
    """What every stream of one process shares: the NOTIFY listener and the shutdown."""

    def __init__(self, database_url: str, heartbeat_interval: float = HEARTBEAT_INTERVAL
                 ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.heartbeat_interval = heartbeat_interval
        self.open_streams = 0  # streams being served now (for metrics and tests)
        self._ring = asyncio.Event()
        self._listener: Any = None  # asyncpg.Connection while listening
        self._lock = asyncio.Lock()
        self._next_attempt = 0.0
        self.closing = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        """Set at the next NOTIFY. Take it before reading, so that a NOTIFY arriving
        while the stream reads is not missed."""
        return self._ring

    async def ensure_listening(self) -> None:
        if self._dsn is None or self.closing.is_set():
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        async with self._lock:
            if self._listener is not None and not self._listener.is_closed():
                return
            if time.monotonic() < self._next_attempt:
                return
            self._listener = await self._listen()

    async def _listen(self) -> Any:
        # A listener problem must never break a stream: polling goes on regardless.
        try:
            listener = await asyncpg.connect(self._dsn, timeout=5)
            await listener.add_listener(OUTBOX_CHANNEL, self._notified)
        except Exception as exc:
            self._next_attempt = time.monotonic() + LISTEN_RETRY_INTERVAL
            log.warning("event streams cannot LISTEN %s, polling only: %s", OUTBOX_CHANNEL, exc)
            return None
        self._notified()  # rows may have arrived while not listening
        return listener

    def _notified(self, *_args: object) -> None:
        ring, self._ring = self._ring, asyncio.Event()
        ring.set()

    async def close(self) -> None:
        self.closing.set()
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            with contextlib.suppress(Exception):
                await listener.close(timeout=5)


EVENT_STREAMS = web.AppKey("event_streams", EventStreams)


async def event_streams_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx entry: the shared listener, closed at exit."""
    app[EVENT_STREAMS] = EventStreams(app[SETTINGS].database_url)
    yield
    await app[EVENT_STREAMS].close()


async def end_event_streams(app: web.Application) -> None:
    """on_shutdown hook: open streams end now, so shutdown does not wait for them.

    aiohttp runs on_shutdown before it waits for requests in flight, and cleanup_ctx
    only after that wait, which would otherwise last its whole shutdown_timeout.
    """
    app[EVENT_STREAMS].closing.set()


def sse_frame(event: FeedEvent) -> bytes:
    # Topics never hold line breaks, but one would end the field and corrupt the stream.
    topic = event.topic.replace("\r", " ").replace("\n", " ")
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (str(event.cursor).encode(), topic.encode(),
                                                  dumps(event.body))


async def stream_events(request: web.Request) -> web.StreamResponse:
    # Last-Event-ID wins: a reconnecting EventSource repeats the URL it started with.
    after = parse_cursor(request.headers.get("Last-Event-ID") or request.query.get("after"))
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",  # nginx would buffer the stream otherwise
    })
    await response.prepare(request)
    streams = request.app[EVENT_STREAMS]
    streams.open_streams += 1
    try:
        await response.write(b"retry: %d\n\n" % RECONNECT_DELAY_MS)
        await _pump(request, response, after)
    except ConnectionError:
        pass  # the client went away while we wrote
    except Exception:
        # The answer has begun, so no error answer is possible: end the stream; the
        # client reconnects and resumes from its Last-Event-ID.
        log.warning("event stream ended by an error", exc_info=True)
    finally:
        streams.open_streams -= 1
    return response


async def _pump(request: web.Request, response: web.StreamResponse, cursor: Cursor) -> None:
    streams: EventStreams = request.app[EVENT_STREAMS]
    engine: ReadEngine = request.app[READ_ENGINE]
    loop = asyncio.get_running_loop()
    last_write = loop.time()
    while not streams.closing.is_set() and not client_gone(request):
        await streams.ensure_listening()
        ticket = streams.ticket()
        events = await read_events(engine, cursor, BATCH_SIZE)
        if events:
            await response.write(b"".join(sse_frame(event) for event in events))
            cursor, last_write = events[-1].cursor, loop.time()
            if len(events) == BATCH_SIZE:
                continue  # more are waiting
        elif loop.time() - last_write >= streams.heartbeat_interval:
            await response.write(b": keep-alive\n\n")
            last_write = loop.time()
        until_heartbeat = streams.heartbeat_interval - (loop.time() - last_write)
        await _first_of(ticket, streams.closing,
                        at_most=max(0.0, min(POLL_INTERVAL, until_heartbeat)))


async def _first_of(*events: asyncio.Event, at_most: float) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
