"""The promotion ladder: request a promotion, then perform, reject or withdraw it.

A compose's promotion state is the highest ladder state it is tagged with (the bottom
state needs no tag). The v1 view of a pending request is the `<to>-requested` tag; a
performed one adds the `<to>` tag and clears the request tag. Those tag changes are
ordinary tag changes — history rows and `compose-tagged`/`-untagged` messages, checked
against the tags' gates — so v1 clients (Jenkins triggers on `tag == nightly`) keep
working; each transition also writes its own history row and `compose-promotion-*`
message carrying the request.

Permissions go through the tags: requesting needs tagger rights on `<to>-requested`,
performing tagger rights on `<to>`, rejecting untagger rights on `<to>-requested`;
the requester may also withdraw their own request.

Refusals that depend on the compose's current state (skipping a step, a request already
pending, a request already decided) are 409; malformed input (unknown state) is 400.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.commands import PROMOTION_DECISIONS, DecidePromotion, RequestPromotion
from handlers.composes import (
    apply_tag,
    apply_untag,
    has_tag_role,
    locked_compose,
    require_tag_role,
)
from handlers.errors import Conflict, Forbidden, InvalidInput, NotFound
from handlers.events import (
    ChangeEvent,
    ComposePromoted,
    ComposePromotionRejected,
    ComposePromotionRequested,
    ComposePromotionWithdrawn,
    announce,
)
from handlers.identifiers import is_row_id
from handlers.identity import Actor, Roles
from handlers.ports import ComposeRef, PromotionRecord, TagRecord, UnitOfWork
from handlers.timeformat import iso_utc
from handlers.validation import MAX_USER_DATA_LENGTH, check_user_data

_DECIDED_STATE = {"perform": "performed", "reject": "rejected", "withdraw": "withdrawn"}
_HISTORY = {"perform": "promoted", "reject": "promotion_rejected",
            "withdraw": "promotion_withdrawn"}
_EVENT: dict[str, type[ChangeEvent]] = {
    "perform": ComposePromoted, "reject": ComposePromotionRejected,
    "withdraw": ComposePromotionWithdrawn}


def requested_tag_name(state: str) -> str:
    return f"{state}-requested"


def current_state(tags: list[str], ladder: tuple[str, ...]) -> str:
    """The highest ladder state among the compose's tags, else the bottom state."""
    present = set(tags)
    reached = [state for state in ladder[1:] if state in present]
    return reached[-1] if reached else ladder[0]


async def request_promotion(cmd: RequestPromotion, uow: UnitOfWork, actor: Actor,
                            roles: Roles) -> dict[str, Any]:
    """Record a request to move the compose one step up; answers the request."""
    _check_state(cmd.to, cmd.ladder)
    reason = check_reason(cmd.reason, required=False)
    check_user_data(cmd.user_data)
    compose = await locked_compose(uow, cmd.compose_id)
    current = await _promotable_state(uow, compose, cmd.to, cmd.ladder)
    pending = await uow.promotions.pending_of(compose.pk)
    if pending is not None:
        raise Conflict(f"Compose {compose.compose_id} already has pending promotion request "
                       f"{pending.id} to {pending.to_state}")
    tag = await ensure_ladder_tag(uow, requested_tag_name(cmd.to), actor)
    require_tag_role(tag, "tagger", actor, roles)
    await apply_tag(uow, compose, tag, actor, cmd.user_data)
    request_id = await uow.promotions.add(compose.pk, current, cmd.to,
                                          requested_by=actor.username, reason=reason,
                                          user_data=cmd.user_data)
    record = await _record(uow, request_id)
    await uow.composes.add_change(compose.pk, "promotion_requested", actor.username,
                                  _message(f"Promotion to {cmd.to} requested", reason),
                                  cmd.user_data)
    body = promotion_json(record)
    await announce(uow, ComposePromotionRequested, compose.pk, compose.compose_id,
                   actor, promotion=body)
    return body


async def decide_promotion(cmd: DecidePromotion, uow: UnitOfWork, actor: Actor,
                           roles: Roles) -> dict[str, Any]:
    """Perform, reject or withdraw a pending request; answers the request as decided."""
    if cmd.decision not in PROMOTION_DECISIONS:
        raise InvalidInput(f"Unknown decision {cmd.decision!r}; expected one of "
                           f"{', '.join(PROMOTION_DECISIONS)}")
    reason = check_reason(cmd.reason, required=cmd.decision == "reject")
    record = await _record(uow, cmd.request_id)
    compose = await locked_compose(uow, record.compose_id)
    # Read again under the compose lock: a concurrent decision may have just committed.
    record = await _record(uow, cmd.request_id)
    if record.state != "requested":
        raise Conflict(f"Promotion request {record.id} is already {record.state}")
    requested = await ensure_ladder_tag(uow, requested_tag_name(record.to_state), actor)
    if cmd.decision == "perform":
        target = await ensure_ladder_tag(uow, record.to_state, actor)
        require_tag_role(target, "tagger", actor, roles)
        await apply_tag(uow, compose, target, actor, None)
    else:
        _require_untag_or_own(requested, record, cmd.decision, actor, roles)
    await apply_untag(uow, compose, requested, actor, None)
    await uow.promotions.decide(record.id, _DECIDED_STATE[cmd.decision], actor.username,
                                reason)
    decided = await _record(uow, record.id)
    what = {"perform": f"Promoted to {record.to_state}",
            "reject": f"Promotion to {record.to_state} rejected",
            "withdraw": f"Promotion to {record.to_state} withdrawn"}[cmd.decision]
    await uow.composes.add_change(compose.pk, _HISTORY[cmd.decision], actor.username,
                                  _message(what, reason), None)
    body = promotion_json(decided)
    await announce(uow, _EVENT[cmd.decision], compose.pk, compose.compose_id, actor,
                   promotion=body)
    return body


def _check_state(to: object, ladder: tuple[str, ...]) -> None:
    if not isinstance(to, str) or to not in ladder:
        raise InvalidInput(f'Unknown promotion state {to!r}; "to" must be one of '
                           f"{', '.join(ladder[1:])}")
    if to == ladder[0]:
        raise InvalidInput(f"{to} is where every compose starts; it cannot be requested")


async def _promotable_state(uow: UnitOfWork, compose: ComposeRef, to: str,
                            ladder: tuple[str, ...]) -> str:
    """The compose's state, if `to` is the next step up from it; else Conflict."""
    representation = await uow.composes.representation(compose.pk)
    if representation.get("removed"):
        raise Conflict(f"Compose {compose.compose_id} was removed; it cannot be promoted")
    current = current_state(representation["tags"], ladder)
    here, there = ladder.index(current), ladder.index(to)
    if there <= here:
        raise Conflict(f"Compose {compose.compose_id} is already {current}")
    if there > here + 1:
        raise Conflict(f"Compose {compose.compose_id} is {current}: promote it to "
                       f"{ladder[here + 1]} before {to} (ladder steps cannot be skipped)")
    return current


def _require_untag_or_own(tag: TagRecord, record: PromotionRecord, decision: str,
                          actor: Actor, roles: Roles) -> None:
    if has_tag_role(tag, "untagger", actor, roles):
        return
    if decision == "withdraw" and actor.username == record.requested_by:
        return
    raise Forbidden(f"User {actor.username} is not allowed to {decision} promotion "
                    f"request {record.id} (needs untagger rights on {tag.name}"
                    + (" or to be its requester)" if decision == "withdraw" else ")"))


async def ensure_ladder_tag(uow: UnitOfWork, name: str, actor: Actor) -> TagRecord:
    """The ladder's v1 tag, created in this transaction if it does not exist yet.

    Created here (and by `EnsureLadderTags` at start-up) rather than by a migration,
    because the ladder is configuration: a changed ladder must not need a new revision.
    """
    tag = await uow.tags.get(name)
    if tag is not None and tag.name == name:
        return tag
    state = name.removesuffix("-requested")
    description = (f"Promotion to {state} requested" if name != state
                   else f"Compose promoted to {state}")
    tag_id = await uow.tags.create(name, description,
                                   "CTS promotion ladder ([workflow] ladder in ctsd.toml)")
    await uow.tags.add_change(tag_id, "created", actor.username,
                              f"Tag {name} created for the promotion ladder", None)
    created = await uow.tags.get(name)
    assert created is not None
    return created


def check_reason(value: object, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput('"reason" is required')
        return None
    if not isinstance(value, str):
        raise InvalidInput('"reason" must be a string')
    if len(value) > MAX_USER_DATA_LENGTH:
        raise InvalidInput(f'"reason" is longer than {MAX_USER_DATA_LENGTH} characters')
    return value


async def _record(uow: UnitOfWork, request_id: int) -> PromotionRecord:
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        raise InvalidInput("A promotion request id must be an integer")
    if not is_row_id(request_id):
        raise NotFound(f"Promotion request {request_id} does not exist")
    record = await uow.promotions.get(request_id)
    if record is None:
        raise NotFound(f"Promotion request {request_id} does not exist")
    return record


def _message(what: str, reason: str | None) -> str:
    return f"{what}: {reason}" if reason else what


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso_utc(value)


def promotion_json(record: PromotionRecord) -> dict[str, Any]:
    """The promotion request object of the HTTP API and of the messages."""
    return {
        "id": record.id, "compose_id": record.compose_id, "from": record.from_state,
        "to": record.to_state, "state": record.state, "requested_by": record.requested_by,
        "requested_at": _iso(record.requested_at), "reason": record.reason,
        "decided_by": record.decided_by, "decided_at": _iso(record.decided_at),
        "decision_reason": record.decision_reason,
    }
