"""Views of /api/1/composes/: import, read, change, history and .repo files."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.api.keys import READ_ENGINE, STORED_ANSWERS
from ctsd.api.requests import actor_of, bus_of, client_gone, json_object, optional_str
from ctsd.api.responses import json_response, stored_json_response
from ctsd.db.idempotency import Idempotency
from ctsd.db.kept_answers import body_hash
from ctsd.db.representation import answer_of
from ctsd.db.tables import compose_changes, composes
from handlers import v1_texts
from handlers.commands import ImportCompose, SetComposeUrl, TagCompose, UntagCompose
from handlers.errors import InvalidInput, NotFound
from handlers.timeformat import iso_utc

_VARIANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


async def import_compose(request: web.Request) -> web.Response:
    body = await json_object(request)
    # null is "no parents" (v1 scripts send it); {} or "" is a mistake, not an empty list.
    parents = body.get("parent_compose_ids")
    parents = [] if parents is None else parents
    if not isinstance(parents, list):
        raise InvalidInput('"parent_compose_ids" must be a list of compose ids')
    if "compose_info" not in body:
        raise InvalidInput(v1_texts.NO_COMPOSE_INFO_FIELD)
    command = ImportCompose(
        compose_info=body["compose_info"],
        parent_compose_ids=tuple(parents),
        respin_of=optional_str(body, "respin_of"),
        compose_url=optional_str(body, "compose_url"),
    )
    key = request.headers.get("Idempotency-Key")
    idempotency = Idempotency.for_request(key, body) if key is not None else None
    # Without a key, an identical retry may claim an answer its client never received.
    lost_answer_of = body_hash(body) if idempotency is None else None
    bus, actor = bus_of(request), actor_of(request)
    outcome = await bus.execute(command, actor, idempotency=idempotency,
                                lost_answer_of=lost_answer_of)
    if lost_answer_of is not None and not outcome.replayed and client_gone(request):
        await bus.keep_lost_answer(actor, lost_answer_of, outcome.body)
    response = json_response(outcome.body)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def change_compose(request: web.Request) -> web.Response:
    compose_id = request.match_info["compose_id"]
    body = await json_object(request)
    action = body.get("action")
    user_data = optional_str(body, "user_data")
    command: Any
    if action in ("tag", "untag"):
        tag = body.get("tag")
        if not isinstance(tag, str) or not tag:
            raise InvalidInput(v1_texts.NO_TAG_FIELD)
        kind = TagCompose if action == "tag" else UntagCompose
        command = kind(compose_id, tag, user_data)
    elif action == "set_url":
        if "compose_url" not in body:
            raise InvalidInput(v1_texts.NO_COMPOSE_URL_FIELD)
        command = SetComposeUrl(compose_id, body["compose_url"], user_data)
    elif action is None:
        raise InvalidInput(v1_texts.NO_ACTION_FIELD)
    else:
        raise InvalidInput(v1_texts.UNKNOWN_ACTION)
    outcome = await bus_of(request).execute(command, actor_of(request))
    return json_response(outcome.body)


async def _pk_of(conn: AsyncConnection, compose_id: str) -> int:
    pk: int | None = (await conn.execute(
        select(composes.c.pk).where(composes.c.compose_id == compose_id)
    )).scalar()
    if pk is None:
        raise NotFound(v1_texts.NO_SUCH_COMPOSE)
    return pk


async def get_compose(request: web.Request) -> web.Response:
    compose_id = request.match_info["compose_id"]
    lookup = request.app[STORED_ANSWERS]
    if lookup is not None:
        stored = await lookup.answer(compose_id)
        if stored is not None:
            return stored_json_response(stored)
    async with request.app[READ_ENGINE].connect() as conn:
        answer = await answer_of(conn, compose_id)
    if answer is None:
        raise NotFound(v1_texts.NO_SUCH_COMPOSE)
    return json_response(answer)


async def compose_changes_view(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        pk = await _pk_of(conn, request.match_info["compose_id"])
        rows = await conn.execute(
            select(compose_changes).where(compose_changes.c.compose_pk == pk)
            .order_by(compose_changes.c.id)
        )
        changes = [
            {"time": iso_utc(row.time), "action": row.action, "user": row.user,
             "message": row.message, "user_data": row.user_data,
             "auth_backend": row.auth_backend}
            for row in rows
        ]
    return json_response({"changes": changes})


async def repo_file(request: web.Request) -> web.Response:
    compose_id = request.match_info["compose_id"]
    variant = request.query.get("variant")
    if not variant:
        raise InvalidInput('Query parameter "variant" is required')
    if not _VARIANT.match(variant):
        raise InvalidInput('"variant" may only contain letters, digits, ".", "_" and "-"')
    async with request.app[READ_ENGINE].connect() as conn:
        row = (await conn.execute(
            select(composes.c.compose_url).where(composes.c.compose_id == compose_id)
        )).first()
    if row is None:
        raise NotFound(v1_texts.NO_SUCH_COMPOSE)
    if not row.compose_url:
        raise NotFound(f"Compose {compose_id} has no compose_url")
    base = row.compose_url.rstrip("/")
    text = (
        f"[{compose_id}-{variant}]\n"
        f"name=Compose {compose_id} (RPMs) - {variant}\n"
        f"baseurl={base}/compose/{variant}/$basearch/os/\n"
        "enabled=1\n"
        "gpgcheck=0\n"
    )
    return web.Response(text=text, content_type="text/plain")
