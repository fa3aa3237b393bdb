"""Paginated, filtered lists of composes and tags.

PLACEHOLDER: being completed (filters, order_by, pagination meta).
"""

from __future__ import annotations

from aiohttp import web


async def list_composes(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def list_tags(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()
