"""JSON errors for every failure, in the v1 shape, and never with internals inside."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import http_exceptions, web

from ctsd.api.outage_log import OutageLog
from ctsd.api.requests import client_gone
from ctsd.api.responses import json_response
from ctsd.api.url_text import url_problem
from ctsd.db.errors import (
    DATA_ERROR_MESSAGE,
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_MESSAGE,
    is_data_error,
    is_outage,
)
from handlers.errors import CommandError

log = logging.getLogger(__name__)
# During an outage every request answers 503: one line per window, not one each.
_OUTAGES = OutageLog(log)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def json_error(status: int, message: str) -> web.Response:
    reason = HTTPStatus(status).phrase
    return json_response({"status": status, "error": reason, "message": message},
                             status=status)


@web.middleware
async def reject_nul_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """NUL or a lone surrogate in a path or query can never be valid, and PostgreSQL
    cannot compare either (ctsd.api.url_text)."""
    problem = url_problem(request)
    if problem:
        return json_error(400, f"The URL {problem}")
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CommandError as exc:
        return json_error(exc.status, exc.message)
    except http_exceptions.HttpProcessingError as exc:
        # Raised reading the body: it ended short of its Content-Length (the client
        # half-closed, server.JsonErrorRequestHandler) or its encoding is broken.
        log.warning("refused a malformed body on %s %s: %s", request.method, request.path,
                    type(exc).__name__)
        return _closing(json_error(400, parser_error_message(400, exc)))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(exc, request)
    except Exception as exc:
        return _unexpected_error(exc, request)


def _http_error(exc: web.HTTPException, request: web.Request) -> web.Response:
    message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    if exc.status == 404:
        message = f"No such resource: {request.path}"
    elif exc.status == 405:
        message = f"Method {request.method} is not allowed on {request.path}"
    elif exc.status == 413:
        message = "Request body is too large"
    response = json_error(exc.status, message)
    if exc.status == 408:
        # The rest of a late body would be read as the next request: close instead.
        response.force_close()
    for header in ("Allow",):
        if header in exc.headers:
            response.headers[header] = exc.headers[header]
    return response


def _unexpected_error(exc: Exception, request: web.Request) -> web.Response:
    if isinstance(exc, ConnectionResetError) and client_gone(request):
        # The client hung up mid-request (aiohttp cancels its read so): not a database
        # outage, and there is nobody left to answer.
        log.info("client closed the connection during %s %s", request.method, request.path)
        return _closing(json_error(400, "The client closed the connection"))
    mapped = database_error_response(exc, request)
    if mapped is not None:
        return mapped
    # The detail goes to the log only: the existing service leaked SQL to callers.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_error(500, "Internal server error; the incident has been logged")


def _closing(response: web.Response) -> web.Response:
    response.force_close()
    return response


def database_error_response(exc: Exception, request: web.Request) -> web.Response | None:
    """503 with Retry-After while the database is away, 400 for a value it refused
    (logged without traceback: neither is a bug here; outages as one line per window,
    ctsd.api.outage_log); None for anything else."""
    if is_data_error(exc):
        # A value validation did not foresee: still the caller's input, no SQL text.
        log.warning("database refused a value on %s %s: %s", request.method,
                    request.path, type(exc).__name__)
        return json_error(400, DATA_ERROR_MESSAGE)
    if is_outage(exc):
        _OUTAGES.record(f"{request.method} {request.path}: {type(exc).__name__}")
        response = json_error(503, UNAVAILABLE_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return None
