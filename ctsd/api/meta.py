"""Service pages: landing page, API docs, OpenAPI document, about, userinfo, metrics.

PLACEHOLDER: being completed (OpenAPI, docs page, metrics).
"""

from __future__ import annotations

from aiohttp import web

from ctsd import __version__
from ctsd.api.errors import Handler
from ctsd.api.keys import SETTINGS


async def landing_page(request: web.Request) -> web.Response:
    return web.Response(text=f"<html><body>CTS {__version__}</body></html>",
                        content_type="text/html")


async def api_docs_page(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def openapi_spec(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def about(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return web.json_response({"version": __version__, "auth_backend": settings.auth_backend,
                              "allowed_builders": sorted(settings.allowed_builders.users)})


async def metrics(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def userinfo(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)


def add_static_routes(app: web.Application) -> None:
    pass
