"""Read views of compose contents (issue #12): a compose's rpms and images (paginated),
what was imported, the diff of two composes and a package's history. The SQL is in
ctsd.db.contents_queries / contents_diff / contents_history."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ctsd.api.keys import READ_ENGINE, SETTINGS
from ctsd.api.pagination import PAGE_PARAMETERS, envelope, page_request
from ctsd.api.responses import json_response
from ctsd.db import contents_diff, contents_history, contents_queries
from ctsd.db.contents_filters import CONTENTS_FILTERS
from ctsd.db.contents_queries import SetFilter
from ctsd.db.queries import filters
from ctsd.db.queries.filters import COMPOSE_FIELDS
from handlers.contents_parse import CATEGORIES
from handlers.errors import InvalidInput
from handlers.timeformat import iso_utc

_RPM_PARAMETERS = frozenset({"variant", "arch", "name", "category", *PAGE_PARAMETERS})
_IMAGE_PARAMETERS = frozenset({"variant", "arch", "type", "format", *PAGE_PARAMETERS})
_HISTORY_PARAMETERS = frozenset({
    *filters.filter_names(COMPOSE_FIELDS, filters.TEXT_SUFFIXES),
    "date_before", "date_after", "tag", "removed", *CONTENTS_FILTERS,
})


async def compose_rpms(request: web.Request) -> web.Response:
    query = request.query
    filters.reject_unknown(query, _RPM_PARAMETERS,
                           "Filters are variant, arch, name and category; then page and per_page.")
    category = query.get("category") or None
    if category is not None and category not in CATEGORIES:
        raise InvalidInput(f"category must be one of {', '.join(CATEGORIES)}")
    page = page_request(query, request.app[SETTINGS])
    wanted = SetFilter(query.get("variant") or None, query.get("arch") or None, category)
    async with request.app[READ_ENGINE].connect() as conn:
        pk = await contents_queries.compose_pk_of(conn, request.match_info["compose_id"])
        total, items = await contents_queries.rpms_page(
            conn, pk, wanted, query.get("name") or None, offset=page.offset,
            limit=page.per_page)
    return json_response(envelope(request, request.app[SETTINGS], page, total, items))


async def compose_images(request: web.Request) -> web.Response:
    query = request.query
    filters.reject_unknown(query, _IMAGE_PARAMETERS,
                           "Filters are variant, arch, type and format; then page and per_page.")
    page = page_request(query, request.app[SETTINGS])
    wanted = {key: query.get(key, "") for key in ("variant", "arch", "type", "format")}
    async with request.app[READ_ENGINE].connect() as conn:
        pk = await contents_queries.compose_pk_of(conn, request.match_info["compose_id"])
        total, items = await contents_queries.images_page(conn, pk, wanted, offset=page.offset,
                                                          limit=page.per_page)
    return json_response(envelope(request, request.app[SETTINGS], page, total, items))


async def compose_contents(request: web.Request) -> web.Response:
    filters.reject_unknown(request.query, (), "Contents take no query parameters.")
    async with request.app[READ_ENGINE].connect() as conn:
        pk = await contents_queries.compose_pk_of(conn, request.match_info["compose_id"])
        summary = await contents_queries.contents_summary(conn, pk)
    for part in summary.values():
        for key, value in (part or {}).items():
            if isinstance(value, datetime):
                part[key] = iso_utc(value)  # the Z form of every other answer
    return json_response({"compose_id": request.match_info["compose_id"], **summary})


async def compose_diff(request: web.Request) -> web.Response:
    filters.reject_unknown(request.query, (), "A diff takes no query parameters.")
    old_id, new_id = request.match_info["compose_id"], request.match_info["other_id"]
    async with request.app[READ_ENGINE].connect() as conn:
        old_pk = await contents_queries.compose_pk_of(conn, old_id)
        new_pk = await contents_queries.compose_pk_of(conn, new_id)
        found = await contents_diff.diff(conn, (old_pk, old_id), (new_pk, new_id))
    return json_response(found)


async def rpm_history(request: web.Request) -> web.Response:
    query = request.query
    filters.reject_unknown(query, _HISTORY_PARAMETERS,
                           "Filters are those of GET /api/1/composes/ without paging.")
    name = request.match_info["name"]
    async with request.app[READ_ENGINE].connect() as conn:
        conditions = filters.compose_conditions(query, conn.dialect.name)
        versions = await contents_history.package_history(conn, name, conditions)
    return json_response({"name": name, "versions": versions})
