"""The HTTP middleware of observability: the request id every log line of a request
carries, and the optional access log. (The tracing span's middleware is added by
OpenTelemetry's aiohttp-server instrumentation itself, see ctsd.observability.tracing.)"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from aiohttp import web

from ctsd.api.errors import Handler
from ctsd.observability.logs import REQUEST_ID

ACCESS_LOG = logging.getLogger("ctsd.access")
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's own id is kept (a front proxy's, say) if it is short and printable.
_MAX_REQUEST_ID = 128


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(given) <= _MAX_REQUEST_ID and given.isprintable():
        return given
    return os.urandom(8).hex()


def request_context_middleware(access_log: bool) -> Any:
    """Give each request an id (X-Request-ID, kept from the caller or made here) that
    every log line written while serving it carries; log one access line per request
    if `access_log`."""

    @web.middleware
    async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = _request_id(request)
        token = REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        except web.HTTPException as exc:
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = request_id
            raise
        finally:
            if access_log:
                ACCESS_LOG.info("%s %s %s %d %.1fms", request.remote, request.method,
                                request.path_qs, status,
                                (time.perf_counter() - start) * 1000.0)
            REQUEST_ID.reset(token)

    return request_context


def http_middlewares(access_log: bool = False) -> list[Any]:
    return [request_context_middleware(access_log)]
