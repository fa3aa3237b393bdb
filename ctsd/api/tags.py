"""Views of /api/1/tags/: create, read, edit, permissions and history."""

from __future__ import annotations

from aiohttp import web

from ctsd.api.keys import READ_ENGINE
from ctsd.api.requests import actor_of, bus_of, json_object, optional_str
from ctsd.api.responses import json_response
from ctsd.db.queries import lookup
from ctsd.db.queries.tags import tag_changes_of, tag_representation
from handlers.commands import ChangeTagPermission, CreateTag, EditTag
from handlers.timeformat import iso_utc


async def create_tag(request: web.Request) -> web.Response:
    body = await json_object(request)
    command = CreateTag(
        name=body.get("name"),  # type: ignore[arg-type]  # the handler validates it
        description=body.get("description"),  # type: ignore[arg-type]
        documentation=body.get("documentation"),  # type: ignore[arg-type]
        user_data=optional_str(body, "user_data"),
    )
    outcome = await bus_of(request).execute(command, actor_of(request))
    return json_response(outcome.body)


async def edit_tag(request: web.Request) -> web.Response:
    tag = request.match_info["tag"]
    body = await json_object(request)
    user_data = optional_str(body, "user_data")
    permission = None
    if "action" in body:
        permission = ChangeTagPermission(
            tag, str(body["action"]), optional_str(body, "username"),
            optional_str(body, "group"), user_data,
        )
    # The existing CTS changes only what is given non-empty; "" leaves the value as is.
    edits = {key: optional_str(body, key) or None
             for key in ("name", "description", "documentation")}
    command = EditTag(tag, **edits, user_data=user_data, permission=permission)
    outcome = await bus_of(request).execute(command, actor_of(request))
    return json_response(outcome.body)


async def get_tag(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        tag_id = await lookup.tag_id(conn, request.match_info["tag"])
        return json_response(await tag_representation(conn, tag_id))


async def tag_changes_view(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        tag_id = await lookup.tag_id(conn, request.match_info["tag"])
        rows = await tag_changes_of(conn, tag_id)
    changes = [
        {"time": iso_utc(row.time), "action": row.action, "user": row.user,
         "message": row.message, "user_data": row.user_data,
         "auth_backend": row.auth_backend}
        for row in rows
    ]
    return json_response({"changes": changes})
