"""Worker processes that share one listening socket take turns accepting a burst.

`ctsd serve --workers N` forks workers that inherit the arbiter's listening socket
(ctsd.serving). Each worker's event loop watches it, and uvloop (libuv) accepts every
connection waiting there in one go: a client that opens its connections at once (a
pool of keep-alive connections, as an HTTP client library or a test system keeps)
finds them all in the worker that woke first. Measured under the harness at c=8 (`ss`
on the port during six runs): all eight connections in one worker in five of them,
while the other worker idled.

Here a worker accepts one connection at a time, and while it holds a few connections
already it leaves the next one of a burst to the other workers for a millisecond
(TURN_SECONDS, TURNS_UP_TO), so a worker awake at the same moment takes it. Nothing
waits when no burst comes: a connection arriving alone is accepted as before, and so
are the connections of a big burst once the first ones are spread. (SO_REUSEPORT
sockets per worker would spread connections by a hash of the client's address and
port, unevenly for a few connections, and drop the connections still queued on a
worker's own socket when it stops.)
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from typing import Any

from aiohttp import web

from ctsd.api.server import JsonErrorAppRunner

log = logging.getLogger(__name__)

# accept() failing for the connection's own reasons: the next one is accepted at once.
CLIENT_GAVE_UP = (errno.ECONNABORTED, errno.ECONNRESET, errno.EPROTO, errno.EPERM)
# Any other failure (out of file descriptors, say) is retried after this long.
ACCEPT_RETRY_PAUSE_SECONDS = 0.1
# How long a worker that holds connections already leaves the next one of a burst to
# the others: the event loop's timers count whole milliseconds.
TURN_SECONDS = 0.001
# Turns are taken while a worker holds at most this many connections: a pool of 32
# keep-alive connections (the harness at c=32) still ends up 16/16 over two workers;
# 200 connections opened at once took 0.31-0.41 s to import against 0.27-0.33 s
# without turns, when every connection waited its turn.
TURNS_UP_TO = 16
# As asyncio's create_server.
SSL_HANDSHAKE_TIMEOUT_SECONDS = 60.0


class SharedSocketAppRunner(JsonErrorAppRunner):
    """The worker's runner: once set up, it serves the sockets given to `serve_on` with
    TurnTakingSites (the worker then starts no site of its own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listeners: list[socket.socket] = []
        self._ssl_context: ssl.SSLContext | None = None

    def serve_on(self, listeners: list[socket.socket],
                 ssl_context: ssl.SSLContext | None) -> None:
        self._listeners = listeners
        self._ssl_context = ssl_context

    async def setup(self) -> None:
        await super().setup()
        for listener in self._listeners:
            await TurnTakingSite(self, listener, ssl_context=self._ssl_context).start()


class TurnTakingSite(web.SockSite):
    """aiohttp's site on an inherited listening socket, taking turns with the other
    workers to accept (see the module's docstring)."""

    async def start(self) -> None:
        # BaseSite.start registers the site with its runner (SockSite.start would also
        # make an asyncio server accepting everything at once: not wanted here).
        await web.BaseSite.start(self)
        self._server = _AcceptLoop(self._sock, self._runner.server, self._ssl_context)


class _AcceptLoop(asyncio.AbstractServer):
    """What the site stops: the accepting task. The socket is the arbiter's; the
    connections accepted belong to aiohttp's server, which closes them at shutdown."""

    def __init__(self, sock: socket.socket, protocol_factory: Any,
                 ssl_context: ssl.SSLContext | None, *, turn_seconds: float = TURN_SECONDS,
                 turns_up_to: int = TURNS_UP_TO,
                 retry_pause_seconds: float = ACCEPT_RETRY_PAUSE_SECONDS) -> None:
        self._turn_seconds = turn_seconds
        self._turns_up_to = turns_up_to
        self._retry_pause_seconds = retry_pause_seconds
        self._sock = sock
        self._factory = protocol_factory
        self._ssl_context = ssl_context
        self._loop = asyncio.get_running_loop()
        self._connecting: set[asyncio.Task[Any]] = set()
        sock.setblocking(False)
        self._task: asyncio.Task[None] | None = self._loop.create_task(self._accept())

    async def _accept(self) -> None:
        while True:
            try:
                conn, _ = await self._loop.sock_accept(self._sock)
            except OSError as exc:
                if exc.errno in CLIENT_GAVE_UP:
                    continue
                # Out of file descriptors, say: trying again at once would only fail
                # again (connections wait in the queue meanwhile).
                log.warning("cannot accept connections now: %s", exc)
                await asyncio.sleep(self._retry_pause_seconds)
                continue
            except Exception:
                # Whatever it is, this worker must not stop accepting because of it.
                log.exception("accepting a connection failed")
                await asyncio.sleep(self._retry_pause_seconds)
                continue
            self._connect(conn)
            # The next connection of a burst is for another worker, if one is awake. A
            # turn of the loop is too short for that (it lets the other process run,
            # but this one is back at the socket first); a worker holding a single
            # connection, as with clients that connect per request, does not wait, nor
            # does one holding many: a big burst (200 imports at once) is accepted at
            # full speed once the first connections are spread.
            holding = len(self._factory.connections)
            turn = 1 < holding <= self._turns_up_to
            await asyncio.sleep(self._turn_seconds if turn else 0)

    def _connect(self, conn: socket.socket) -> None:
        ssl_context = self._ssl_context
        task = self._loop.create_task(self._loop.connect_accepted_socket(
            self._factory, conn, ssl=ssl_context,
            ssl_handshake_timeout=SSL_HANDSHAKE_TIMEOUT_SECONDS if ssl_context else None))
        self._connecting.add(task)
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[Any]) -> None:
        self._connecting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A TLS handshake that failed or timed out: that client's problem alone.
            log.debug("connection not set up: %r", task.exception())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._task is not None

    async def start_serving(self) -> None:
        """Serving starts with the site."""

    async def serve_forever(self) -> None:
        raise NotImplementedError("the site serves until it is stopped")

    async def wait_closed(self) -> None:
        """Nothing to wait for: the accepted connections are aiohttp's to close."""
