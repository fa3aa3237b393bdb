"""Views of the promotion and lifecycle extensions (issue #5): promotions, removal,
locations, gates and a compose's status. v1 answers are untouched; these paths are new.

Writes parse the request into a command and run it on the command bus; reads call
ctsd.db.queries on the read engine. No rule lives here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ctsd.api.keys import BUS, READ_ENGINE, SETTINGS
from ctsd.api.pagination import envelope, page_request
from ctsd.api.requests import actor_of, json_object, optional_str
from ctsd.api.responses import json_response
from ctsd.db.queries import lookup, promotions
from ctsd.db.queries.tags import gates_of
from handlers.commands import DecidePromotion, RemoveCompose, RequestPromotion, SetTagGates
from handlers.errors import InvalidInput, NotFound
from handlers.identifiers import row_id_from_text
from handlers.promotions import current_state, promotion_json
from handlers.timeformat import iso_utc

PROMOTION_STATES = ("requested", "performed", "rejected", "withdrawn")


def _ladder(request: web.Request) -> tuple[str, ...]:
    return request.app[SETTINGS].workflow.ladder


async def request_promotion(request: web.Request) -> web.Response:
    body = await json_object(request)
    if "to" not in body:
        raise InvalidInput('Missing "to" (the promotion state wanted)')
    command = RequestPromotion(request.match_info["compose_id"], body["to"],
                               optional_str(body, "reason"), optional_str(body, "user_data"),
                               _ladder(request))
    outcome = await request.app[BUS].execute(command, actor_of(request))
    return json_response(outcome.body, status=201)


def _decision_view(decision: str) -> Any:
    async def decide(request: web.Request) -> web.Response:
        raw_id = request.match_info["request_id"]
        request_id = row_id_from_text(raw_id)
        if request_id is None:
            raise NotFound(f"Promotion request {raw_id} does not exist")
        body = await json_object(request) if request.can_read_body else {}
        command = DecidePromotion(request_id, decision, body.get("reason"), _ladder(request))
        outcome = await request.app[BUS].execute(command, actor_of(request))
        return json_response(outcome.body)

    decide.__name__ = f"{decision}_promotion"
    return decide


perform_promotion = _decision_view("perform")
reject_promotion = _decision_view("reject")
withdraw_promotion = _decision_view("withdraw")


async def compose_promotions(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        records = await promotions.promotions_of(conn, request.match_info["compose_id"])
    return json_response({"promotions": [promotion_json(record) for record in records]})


async def list_promotions(request: web.Request) -> web.Response:
    query, settings = request.query, request.app[SETTINGS]
    unknown = set(query) - {"state", "to", "page", "per_page"}
    if unknown:
        raise InvalidInput(f"Unknown parameter(s) {', '.join(sorted(unknown))}; filters "
                           "are state and to, then page and per_page")
    state, to_state = query.get("state"), query.get("to")
    if state is not None and state not in PROMOTION_STATES:
        raise InvalidInput(f"state must be one of {', '.join(PROMOTION_STATES)}")
    if to_state is not None and to_state not in settings.workflow.ladder:
        raise InvalidInput(f"to must be one of {', '.join(settings.workflow.ladder)}")
    page = page_request(query, settings)
    async with request.app[READ_ENGINE].connect() as conn:
        total, records = await promotions.promotion_page(conn, state, to_state,
                                                         page.offset, page.per_page)
    items = [promotion_json(record) for record in records]
    return json_response(envelope(request, settings, page, total, items))


async def remove_compose(request: web.Request) -> web.Response:
    body = await json_object(request)
    command = RemoveCompose(request.match_info["compose_id"], body.get("reason"))
    outcome = await request.app[BUS].execute(command, actor_of(request))
    return json_response(outcome.body)


async def compose_locations_view(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        rows = await promotions.locations_of(conn, request.match_info["compose_id"])
    items = [{"url": row.url, "time": iso_utc(row.time), "user": row.user} for row in rows]
    return json_response({"locations": items})


async def compose_status(request: web.Request) -> web.Response:
    """Lifecycle fields the v1 answer does not carry: build status, removal, promotion."""
    compose_id = request.match_info["compose_id"]
    async with request.app[READ_ENGINE].connect() as conn:
        status = await promotions.compose_status(conn, compose_id)
    row, pending = status.row, status.pending
    return json_response({
        "compose_id": compose_id, "build_status": row.build_status,
        "removed": row.removed_at is not None,
        "removed_at": iso_utc(row.removed_at) if row.removed_at else None,
        "removed_reason": row.removed_reason,
        "promotion_state": current_state(status.tags, _ladder(request)),
        "pending_promotion": promotion_json(pending) if pending else None,
        "compose_url": row.compose_url,
    })


async def get_tag_gates(request: web.Request) -> web.Response:
    async with request.app[READ_ENGINE].connect() as conn:
        tag_id = await lookup.tag_id(conn, request.match_info["tag"])
        return json_response(await gates_of(conn, tag_id))


async def put_tag_gates(request: web.Request) -> web.Response:
    body = await json_object(request)
    unknown = set(body) - {"requires", "excludes", "user_data"}
    if unknown:
        raise InvalidInput(f"Unknown field(s) {', '.join(sorted(unknown))}; expected "
                           "requires, excludes and user_data")
    lists = {key: body.get(key, []) for key in ("requires", "excludes")}
    for key, value in lists.items():
        if not isinstance(value, list):
            raise InvalidInput(f'"{key}" must be a list of tag names')
    command = SetTagGates(request.match_info["tag"], tuple(lists["requires"]),
                          tuple(lists["excludes"]), optional_str(body, "user_data"))
    outcome = await request.app[BUS].execute(command, actor_of(request))
    return json_response(outcome.body)
