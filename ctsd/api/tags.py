"""Views of /api/1/tags/: create, read, edit, permissions and history."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.api.keys import BUS, READ_ENGINE
from ctsd.api.requests import actor_of, json_object, optional_str
from ctsd.api.timeformat import iso_utc
from ctsd.db.tables import tag_changes
from ctsd.db.tag_store import SqlTagStore, tag_representation
from ctsd.db.uow import utcnow
from ctsd.jsonio import json_response
from ctsd.service import CommandBus
from handlers import v1_texts
from handlers.commands import ChangeTagPermission, CreateTag, EditTag
from handlers.errors import NotFound


def bus_of(request: web.Request) -> CommandBus:
    return request.app[BUS]


async def create_tag(request: web.Request) -> web.Response:
    body = await json_object(request)
    command = CreateTag(
        name=body.get("name"),  # type: ignore[arg-type]  (validated by the handler)
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
    edits = {key: optional_str(body, key) for key in ("name", "description", "documentation")}
    command = EditTag(tag, **edits, user_data=user_data, permission=permission)
    outcome = await bus_of(request).execute(command, actor_of(request))
    return json_response(outcome.body)


async def tag_id_of(conn: AsyncConnection, request: web.Request) -> int:
    """The id of the tag the path names (by id or name); NotFound if there is none."""
    tag = await SqlTagStore(conn, utcnow).get(request.match_info["tag"])
    if tag is None:
        raise NotFound(v1_texts.NO_SUCH_TAG)
    return tag.id


async def get_tag(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        return json_response(await tag_representation(conn, await tag_id_of(conn, request)))


async def tag_changes_view(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        tag_id = await tag_id_of(conn, request)
        rows = await conn.execute(
            select(tag_changes).where(tag_changes.c.tag_id == tag_id).order_by(tag_changes.c.id)
        )
        changes = [
            {"time": iso_utc(row.time), "action": row.action, "user": row.user,
             "message": row.message, "user_data": row.user_data,
             "auth_backend": row.auth_backend}
            for row in rows
        ]
    return json_response({"changes": changes})
