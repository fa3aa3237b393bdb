"""JSON errors for every failure, in the v1 shape, and never with internals inside."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

from handlers.errors import CommandError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    reason = HTTPStatus(status).phrase
    return web.json_response({"status": status, "error": reason, "message": message},
                             status=status)


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
    except Exception:
        # The detail goes to the log only: the existing service leaked SQL to callers.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "Internal server error; the incident has been logged")
