"""Paginated, filtered lists of composes and tags (GET /api/1/composes/, /api/1/tags/).

The SQL (a COUNT and a LIMIT/OFFSET over the pks alone, then the page's representations)
is ctsd/db/queries/compose_lists.py and tags.py.
"""

from __future__ import annotations

import functools

from aiohttp import web
from multidict import MultiDict

from ctsd.api import keyset_listing
from ctsd.api.keys import READ_ENGINE, SETTINGS
from ctsd.api.pagination import PAGE_PARAMETERS, envelope, page_request
from ctsd.api.responses import json_response
from ctsd.db.contents_filters import CONTENTS_FILTERS
from ctsd.db.queries import compose_lists, filters
from ctsd.db.queries.filters import COMPOSE_FIELDS, TAG_FIELDS
from ctsd.db.queries.list_totals import list_total
from ctsd.db.queries.tags import tag_page

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


async def list_composes(request: web.Request) -> web.Response:
    query, settings = request.query, request.app[SETTINGS]
    filters.reject_unknown(query, _COMPOSE_PARAMETERS, _COMPOSE_HELP)
    if "cursor" in query:
        # The keyset extension; without a cursor parameter the v1 answer is unchanged.
        return await keyset_listing.list_composes_after_cursor(request)
    page = page_request(query, settings)
    filtered = tuple((key, value) for key, value in query.items()
                     if key not in PAGE_PARAMETERS)
    async with request.app[READ_ENGINE].connect() as conn:
        listing = _compose_listing(filtered, conn.dialect.name)
        total, items = await compose_lists.offset_page(conn, listing, page.offset,
                                                       page.per_page)
    return json_response(envelope(request, settings, page, total, items))


@functools.lru_cache(maxsize=256)
def _compose_listing(filtered: tuple[tuple[str, str], ...],
                     dialect: str) -> compose_lists.OffsetListing:
    """The statements of the compose list for these filters and order, kept for the
    queries dashboards and scripts repeat (compose_lists.OffsetListing says why). They
    depend on the query alone; a refused query (InvalidInput) is not kept."""
    query = MultiDict(filtered)
    order = filters.order_clauses(query, COMPOSE_FIELDS, ["-date", "-id"], tiebreaker="id")
    return compose_lists.offset_listing(filters.compose_conditions(query, dialect), order,
                                        list_total(query, dialect))


async def list_tags(request: web.Request) -> web.Response:
    query, settings = request.query, request.app[SETTINGS]
    filters.reject_unknown(query, _TAG_PARAMETERS, _TAG_HELP)
    page = page_request(query, settings)
    order = filters.order_clauses(query, TAG_FIELDS, ["-id"], tiebreaker="id")
    async with request.app[READ_ENGINE].connect() as conn:
        conditions = filters.field_conditions(query, TAG_FIELDS, conn.dialect.name)
        total, items = await tag_page(conn, conditions, order, page.offset, page.per_page)
    return json_response(envelope(request, settings, page, total, items))
