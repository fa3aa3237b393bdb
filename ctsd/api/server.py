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

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from ctsd.api.errors import json_error

log = logging.getLogger(__name__)

# Fixed texts: the parser's messages quote the request, so none of it is echoed back.
_PARSER_MESSAGES: tuple[tuple[type[Exception], str], ...] = (
    (http_exceptions.LineTooLong,
     "A request line or header is too long (the limit is 8190 bytes)"),
    (http_exceptions.InvalidHeader, "A request header is malformed"),
    (http_exceptions.BadHttpMethod, "The request method is malformed"),
    (http_exceptions.InvalidURLError, "The request URL is malformed"),
    (http_exceptions.BadStatusLine, "The request line is malformed"),
    (http_exceptions.ContentLengthError, "The body does not match its Content-Length"),
    (http_exceptions.TransferEncodingError, "The body's transfer encoding is malformed"),
    (http_exceptions.ContentEncodingError, "The body's content encoding is malformed"),
    (http_exceptions.BadHttpMessage, "The request is not valid HTTP"),
)


def parser_error_message(status: int, exc: BaseException | None) -> str:
    """What to tell the client about an error aiohttp raised itself."""
    if status >= 500:
        return "Internal server error; the incident has been logged"
    for kind, message in _PARSER_MESSAGES:
        if isinstance(exc, kind):
            return message
    return "The request is not valid HTTP"


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors in the v1 JSON shape."""

    __slots__ = ()

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
