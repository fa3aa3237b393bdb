"""JSON errors for every failure, in the v1 shape, and never with internals inside."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

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

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 404:
            message = f"No such resource: {request.path}"
        elif exc.status == 405:
            message = f"Method {request.method} is not allowed on {request.path}"
        elif exc.status == 413:
            message = "Request body is too large"
        response = json_error(exc.status, message)
        for header in ("Allow",):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception as exc:
        mapped = database_error_response(exc, request)
        if mapped is not None:
            return mapped
        # The detail goes to the log only: the existing service leaked SQL to callers.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "Internal server error; the incident has been logged")


def database_error_response(exc: Exception, request: web.Request) -> web.Response | None:
    """503 with Retry-After while the database is away, 400 for a value it refused (one
    log line each, no traceback: neither is a bug here); None for anything else."""
    if is_data_error(exc):
        # A value validation did not foresee: still the caller's input, no SQL text.
        log.warning("database refused a value on %s %s: %s", request.method,
                    request.path, type(exc).__name__)
        return json_error(400, DATA_ERROR_MESSAGE)
    if is_outage(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    type(exc).__name__)
        response = json_error(503, UNAVAILABLE_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return None
