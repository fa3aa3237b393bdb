"""GET /api/1/composes/?cursor=...: the compose list, paged by keyset instead of OFFSET.

`cursor=` (empty) asks for the first page; each answer's `meta.next` link carries the
cursor of the next one. Same filters and order_by as the v1 list; `page` cannot be
combined with a cursor. No total is counted: that would cost what the keyset saves.
The SQL is ctsd/db/queries/compose_lists.py and seek.py.
"""

from __future__ import annotations

from aiohttp import web

from ctsd.api.keys import READ_ENGINE, SETTINGS
from ctsd.api.keyset import decode_cursor, encode_cursor, filters_digest
from ctsd.api.pagination import cursor_envelope, page_request
from ctsd.api.responses import json_response
from ctsd.db.queries import compose_lists, filters
from ctsd.db.queries.filters import COMPOSE_FIELDS
from ctsd.db.queries.seek import sort_keys_of
from handlers.errors import InvalidInput

DEFAULT_ORDER = ["-date", "-id"]
# Parameters that say how to page, not what to list: a cursor stays valid across them.
_PAGING = ("cursor", "per_page", "page", "order_by")


async def list_composes_after_cursor(request: web.Request) -> web.Response:
    query, settings = request.query, request.app[SETTINGS]
    if query.getall("page", []):
        raise InvalidInput("page cannot be combined with cursor; follow the `next` links")
    cursors = query.getall("cursor")
    if len(cursors) > 1:
        raise InvalidInput("cursor may be given only once")
    per_page = page_request(query, settings).per_page
    keys = sort_keys_of(filters.sort_keys(query, COMPOSE_FIELDS, DEFAULT_ORDER, "id"),
                        COMPOSE_FIELDS)
    digest = filters_digest((k, v) for k, v in query.items() if k not in _PAGING)
    after = decode_cursor(cursors[0], keys, digest) if cursors[0] else None
    async with request.app[READ_ENGINE].connect() as conn:
        conditions = filters.compose_conditions(query, conn.dialect.name)
        items, last = await compose_lists.keyset_page(conn, conditions, keys, after, per_page)
    next_cursor = None if last is None else encode_cursor(keys, digest, last)
    return json_response(cursor_envelope(request, settings, per_page, next_cursor, items))
