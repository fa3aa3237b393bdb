"""JSON errors for every failure, in the v1 shape, and never with internals inside."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from ctsd.api.responses import json_response
from ctsd.db.engine import ValueRefused
from handlers.errors import CommandError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    reason = HTTPStatus(status).phrase
    return json_response({"status": status, "error": reason, "message": message},
                             status=status)


@web.middleware
async def reject_nul_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """NUL in a path or query can never be valid and PostgreSQL cannot compare it."""
    if "\x00" in request.path or "\x00" in request.query_string or any(
        "\x00" in value for value in request.query.values()
    ):
        return json_error(400, "The URL must not contain NUL characters")
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CommandError as exc:
        return json_error(exc.status, exc.message)
    except ValueRefused:
        # A value the database cannot hold that validation did not foresee: still the
        # caller's input, so a 400, and still no SQL text in the answer.
        log.warning("database refused a value on %s %s", request.method, request.path,
                    exc_info=True)
        return json_error(400, "A value in the request is out of range or malformed")
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
    except Exception:
        # The detail goes to the log only: the existing service leaked SQL to callers.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "Internal server error; the incident has been logged")
