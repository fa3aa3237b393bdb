"""GET /api/1/composes/?cursor=...: the compose list, paged by keyset instead of OFFSET.

`cursor=` (empty) asks for the first page; each answer's `meta.next` link carries the
cursor of the next one. Same filters and order_by as the v1 list; `page` cannot be
combined with a cursor. No total is counted: that would cost what the keyset saves.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.api import filters
from ctsd.api.filters import COMPOSE_FIELDS
from ctsd.api.keys import READ_ENGINE, SETTINGS
from ctsd.api.keyset import (
    SortKey,
    decode_cursor,
    encode_cursor,
    filters_digest,
    seek_condition,
    sort_keys_of,
)
from ctsd.api.pagination import cursor_envelope, page_request
from ctsd.db.representation import REPRESENTATION_ROWS, represent_rows
from ctsd.jsonio import json_response
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
        rows, more = await _page_after(conn, conditions, keys, after, per_page)
        items = await represent_rows(conn, rows)
    next_cursor = None
    if more:
        next_cursor = encode_cursor(keys, digest, _sort_values(rows[-1], keys))
    return json_response(cursor_envelope(request, settings, per_page, next_cursor, items))


async def _page_after(conn: AsyncConnection, conditions: list[Any], keys: list[SortKey],
                      after: list[Any] | None, per_page: int) -> tuple[list[Any], bool]:
    """Up to per_page rows after the cursor, and whether more follow (one extra row)."""
    statement = page_statement(conditions, keys, after, per_page + 1)
    rows = (await conn.execute(statement)).all()
    return rows[:per_page], len(rows) > per_page


def page_statement(conditions: list[Any], keys: list[SortKey], after: list[Any] | None,
                   limit: int) -> Select[Any]:
    """The rows of a keyset page with their sort values (sort_0, sort_1, ...)."""
    if after is not None:
        conditions = [*conditions, seek_condition(keys, after)]
    sort_columns = [key.field.order_column.label(f"sort_{i}") for i, key in enumerate(keys)]
    order = [filters.order_clause(key.field.order_column, descending=key.descending)
             for key in keys]
    return (REPRESENTATION_ROWS.add_columns(*sort_columns).where(*conditions)
            .order_by(*order).limit(limit))


def _sort_values(row: Any, keys: list[SortKey]) -> list[Any]:
    return [getattr(row, f"sort_{i}") for i in range(len(keys))]
