"""Views of the query extensions (all read-only, none part of the v1 contract):

- GET /api/1/composes/latest/?<list filters>: the newest matching compose, 404 if none;
- GET /api/1/composes/{id}/neighbours/?<list filters>: previous and next in its stream;
- GET /api/1/composes/{id}/lineage/: ancestors, descendants and respin chains.

`latest/` ends with a slash, so it never reaches GET /api/1/composes/{compose_id}
(a compose id cannot contain "/"); it is also registered before that route.
"""

from __future__ import annotations

from aiohttp import web

from ctsd.api.keys import READ_ENGINE
from ctsd.api.responses import json_response
from ctsd.db.contents_filters import CONTENTS_FILTERS
from ctsd.db.queries import compose_streams, filters
from ctsd.db.queries.filters import COMPOSE_FIELDS
from handlers.errors import NotFound

FILTER_PARAMETERS = frozenset({
    *filters.filter_names(COMPOSE_FIELDS, filters.TEXT_SUFFIXES),
    "date_before", "date_after", "tag", "removed", *CONTENTS_FILTERS,
})
_FILTER_HELP = (
    "Filters are those of GET /api/1/composes/ (each field, with _contains, _startswith "
    "or _endswith, date_before, date_after, tag and removed); no order_by or paging."
)


async def latest_compose(request: web.Request) -> web.Response:
    filters.reject_unknown(request.query, FILTER_PARAMETERS, _FILTER_HELP)
    async with request.app[READ_ENGINE].connect() as conn:
        conditions = filters.compose_conditions(request.query, conn.dialect.name)
        found = await compose_streams.latest(conn, conditions)
    if found is None:
        raise NotFound("No compose matches these filters")
    return json_response(found)


async def compose_neighbours(request: web.Request) -> web.Response:
    compose_id = request.match_info["compose_id"]
    filters.reject_unknown(request.query, FILTER_PARAMETERS, _FILTER_HELP)
    async with request.app[READ_ENGINE].connect() as conn:
        conditions = filters.compose_conditions(request.query, conn.dialect.name)
        found = await compose_streams.neighbours(conn, compose_id, conditions)
    if found is None:
        raise NotFound(f"Compose {compose_id} does not exist")
    return json_response({"previous": found.previous, "next": found.next})


async def compose_lineage(request: web.Request) -> web.Response:
    compose_id = request.match_info["compose_id"]
    filters.reject_unknown(request.query, (), "Lineage takes no query parameters.")
    async with request.app[READ_ENGINE].connect() as conn:
        found = await compose_streams.lineage(conn, compose_id)
    if found is None:
        raise NotFound(f"Compose {compose_id} does not exist")
    return json_response(found)
