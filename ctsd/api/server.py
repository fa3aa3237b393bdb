"""Serving the app so that errors aiohttp raises itself (before any middleware runs: a
malformed request line, an oversized header, a body shorter than its Content-Length) are
JSON in the v1 shape too, logged as one line, and never echo what the client sent (the
parser's own text quotes the start of the offending line, which can be a credential)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from aiohttp import StreamReader, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from ctsd.api.errors import json_error, parser_error_message

log = logging.getLogger(__name__)

class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors in the v1 JSON shape."""

    __slots__ = ("_latest_body",)

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            log.error("error handling a request from %s", request.remote, exc_info=exc)
        else:
            # The client's mistake: one line, no traceback, and nothing it sent.
            log.warning("refused a malformed request from %s: %d %s", request.remote,
                        status, type(exc).__name__ if exc else "")
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send an error")
        response = json_error(status, parser_error_message(status, exc))
        response.force_close()
        return response

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The body of the last request parsed: the only one the parser can still be
        # filling. aiohttp hands a request to its view a loop turn or more later, so
        # "the current request" may not be set yet when the client's EOF arrives.
        self._latest_body: StreamReader | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages:
            self._latest_body = self._messages[-1][1]

    # asyncio's protocol contract is `bool | None` (True keeps the transport open for
    # writing); aiohttp's stub narrows it to None.
    def eof_received(self) -> bool:  # type: ignore[override]
        """The client half-closed its side. A body still short of its Content-Length can
        never be completed now: end it there, so that the view sees it short and
        answers 400 JSON (ctsd.api.requests), and keep the connection open to send that
        answer (True), closing it after. Otherwise close at once, as aiohttp does."""
        body = self._latest_body
        if body is None or body.is_eof():
            return False
        body.feed_eof()
        self.close()
        return True


class JsonErrorServer(Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorAppRunner(web.AppRunner):
    """An AppRunner whose connections use JsonErrorRequestHandler."""

    async def _make_server(self) -> Server:
        app = self.app
        loop = asyncio.get_running_loop()
        app._set_loop(loop)
        app.on_startup.freeze()
        await app.startup()
        app.freeze()
        # aiohttp itself passes app._handle here, with the same ignore.
        return JsonErrorServer(app._handle,  # type: ignore[arg-type]
                               request_factory=app._make_request, loop=loop,
                               debug=app._debug, **self._kwargs)


async def _serve(app: web.Application, host: str, port: int,
                 ssl_context: ssl.SSLContext | None) -> None:
    runner = JsonErrorAppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        log.info("======== Running on %s ========", site.name)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run_app(app: web.Application, *, host: str, port: int,
            ssl_context: ssl.SSLContext | None, loop: asyncio.AbstractEventLoop) -> None:
    """Serve until SIGTERM or SIGINT, then shut down cleanly (like `web.run_app`)."""
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, host, port, ssl_context))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError, web.GracefulExit):
            loop.run_until_complete(main)
        _cancel_remaining(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks: Any = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
