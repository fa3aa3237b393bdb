"""Paginated, filtered lists of composes and tags (GET /api/1/composes/, /api/1/tags/).

Each page costs a COUNT and a LIMIT/OFFSET query over the pks alone (both use the
indexes in ctsd.db.tables), then the representations of that page's rows only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.api import filters, keyset_listing
from ctsd.api.filters import COMPOSE_FIELDS, TAG_FIELDS
from ctsd.api.keys import READ_ENGINE, SETTINGS
from ctsd.api.pagination import PAGE_PARAMETERS, PageRequest, envelope, page_request
from ctsd.db.contents_filters import CONTENTS_FILTERS
from ctsd.db.representation import REPRESENTATION_ROWS, represent_rows
from ctsd.db.tables import composes, tag_permissions, tags
from ctsd.jsonio import json_response

_COMPOSE_PARAMETERS = frozenset({
    *filters.filter_names(COMPOSE_FIELDS, filters.TEXT_SUFFIXES),
    "date_before", "date_after", "tag", "removed", "order_by", "cursor", *PAGE_PARAMETERS,
    *CONTENTS_FILTERS,
})
_COMPOSE_HELP = (
    f"Filters are {', '.join(COMPOSE_FIELDS)} (each also with "
    f"{', '.join(filters.TEXT_SUFFIXES)}), date_before, date_after, tag, removed, "
    f"{', '.join(CONTENTS_FILTERS)}; "
    "then order_by, page and per_page (or cursor and per_page)."
)
_TAG_PARAMETERS = frozenset({*TAG_FIELDS, "order_by", *PAGE_PARAMETERS})
_TAG_HELP = "Filters are id and name; then order_by, page and per_page."

MAX_OFFSET = 2**62

# Which list of the tag representation each (role, kind) permission row belongs to.
_PERMISSION_LISTS = {
    ("tagger", "user"): "taggers",
    ("untagger", "user"): "untaggers",
    ("tagger", "group"): "tagger_groups",
    ("untagger", "group"): "untagger_groups",
}


async def list_composes(request: web.Request) -> web.Response:
    query, settings = request.query, request.app[SETTINGS]
    filters.reject_unknown(query, _COMPOSE_PARAMETERS, _COMPOSE_HELP)
    if "cursor" in query:
        # The keyset extension; without a cursor parameter the v1 answer is unchanged.
        return await keyset_listing.list_composes_after_cursor(request)
    page = page_request(query, settings)
    order = filters.order_clauses(query, COMPOSE_FIELDS, ["-date", "-id"], tiebreaker="id")
    async with request.app[READ_ENGINE].connect() as conn:
        conditions = filters.compose_conditions(query, conn.dialect.name)
        total, rows = await _compose_page(conn, conditions, order, page)
        items = await represent_rows(conn, rows)
    return json_response(envelope(request, settings, page, total, items))


async def _compose_page(conn: AsyncConnection, conditions: list[Any], order: list[Any],
                        page: PageRequest) -> tuple[int, list[Any]]:
    """The total and one page of rows with the representation columns.

    Filtered: one query, counting with a window over the matches (they are few, and the
    count had to visit them all anyway). Unfiltered: a COUNT, then the page's pks from
    the covering sort index, so a deep page never reads the rows it skips.
    """
    if page.offset > MAX_OFFSET:
        # Far past any last page, and beyond what OFFSET (a bigint) can hold.
        return await _count(conn, select(composes.c.pk).where(*conditions)), []
    pks = select(composes.c.pk).where(*conditions).order_by(*order)
    if conditions:
        pks = pks.add_columns(func.count().over().label("total"))
    else:
        total = await _count(conn, select(composes.c.pk))
        if page.offset >= total:
            return total, []
    window = pks.limit(page.per_page).offset(page.offset).subquery()
    rows = (await conn.execute(
        REPRESENTATION_ROWS.add_columns(*([window.c.total] if conditions else []))
        .join(window, window.c.pk == composes.c.pk)
        .order_by(*order)
    )).all()
    if not conditions:
        return total, rows
    if rows:
        return rows[0].total, rows
    # Past the last page the window saw no row: count separately.
    return await _count(conn, select(composes.c.pk).where(*conditions)), []


async def list_tags(request: web.Request) -> web.Response:
    query, settings = request.query, request.app[SETTINGS]
    filters.reject_unknown(query, _TAG_PARAMETERS, _TAG_HELP)
    page = page_request(query, settings)
    order = filters.order_clauses(query, TAG_FIELDS, ["-id"], tiebreaker="id")
    async with request.app[READ_ENGINE].connect() as conn:
        conditions = filters.field_conditions(query, TAG_FIELDS, conn.dialect.name)
        total = await _count(conn, select(tags.c.id).where(*conditions))
        rows = await _page_rows(conn, select(tags).where(*conditions).order_by(*order),
                                page, total)
        items = await _tag_representations(conn, rows)
    return json_response(envelope(request, settings, page, total, items))


async def _count(conn: AsyncConnection, filtered: Select[Any]) -> int:
    # Counting the filtered keys only: no ORDER BY, no representation joins.
    counted = select(func.count()).select_from(filtered.subquery())
    return (await conn.execute(counted)).scalar_one()


async def _page_rows(conn: AsyncConnection, ordered: Select[Any], page: PageRequest,
                     total: int) -> list[Any]:
    # A page past the end is empty without asking the database (and without handing it
    # an OFFSET that may overflow its integer type).
    if page.offset >= total:
        return []
    rows = await conn.execute(ordered.limit(page.per_page).offset(page.offset))
    return list(rows)


async def _tag_representations(conn: AsyncConnection, rows: list[Any]) -> list[dict[str, Any]]:
    """The tag representation of GET /api/1/tags/{id} for a page of tags, in one query."""
    items = {row.id: _tag_item(row) for row in rows}
    if not items:
        return []
    permissions = await conn.execute(
        select(tag_permissions).where(tag_permissions.c.tag_id.in_(list(items)))
        .order_by(tag_permissions.c.name)
    )
    for perm in permissions:
        listed = _PERMISSION_LISTS.get((perm.role, perm.kind))
        if listed is not None:
            items[perm.tag_id][listed].append(perm.name)
    return list(items.values())


def _tag_item(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "documentation": row.documentation,
        **{listed: [] for listed in _PERMISSION_LISTS.values()},
    }

