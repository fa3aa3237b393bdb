"""What the daemon does by itself for the workflow: create the ladder's tags, re-announce
stale promotion requests, and ask for the removal of composes nobody promoted.

These run as ordinary commands (one transaction: state, history, outbox) from the
background task of `ctsd serve` (ctsd/workflow_task.py), as the system actor. Several
daemons may run them at once: each claim (a reminder's `last_reminded_at`, a removal
request's row) is made by the same statement that decides it is due, so exactly one
daemon announces each.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers.commands import EnsureLadderTags, RemindStalePromotions, RequestExpiredRemovals
from handlers.errors import Forbidden, InvalidInput
from handlers.events import ComposePromotionReminder, ComposeRemovalRequested, raise_event
from handlers.identity import Actor, Roles
from handlers.ports import UnitOfWork
from handlers.promotions import ensure_ladder_tag, promotion_json, requested_tag_name


def _require_admin(actor: Actor, roles: Roles) -> None:
    if not roles.is_admin(actor):
        raise Forbidden(f"User {actor.username} may not run workflow maintenance")


async def ensure_ladder_tags(cmd: EnsureLadderTags, uow: UnitOfWork, actor: Actor,
                             roles: Roles) -> dict[str, Any]:
    """Create missing `<state>` and `<state>-requested` tags; answers the names created."""
    _require_admin(actor, roles)
    created = []
    for state in cmd.ladder[1:]:
        for name in (state, requested_tag_name(state)):
            if await uow.tags.get(name) is None:
                await ensure_ladder_tag(uow, name, actor)
                created.append(name)
    return {"created": created}


async def remind_stale_promotions(cmd: RemindStalePromotions, uow: UnitOfWork,
                                  actor: Actor, roles: Roles) -> dict[str, Any]:
    """One `compose-promotion-reminder` per request pending for longer than the interval
    (since it was made or last re-announced)."""
    _require_admin(actor, roles)
    if cmd.interval_seconds <= 0:
        raise InvalidInput("The reminder interval must be positive")
    cutoff = uow.now() - timedelta(seconds=cmd.interval_seconds)
    claimed = await uow.promotions.claim_stale(cutoff, cmd.limit)
    for record in claimed:
        compose = await uow.composes.representation(record.compose_pk)
        # Nobody acted: the daemon re-announces what is still waiting.
        reminder = ComposePromotionReminder(promotion=promotion_json(record),
                                            compose=compose, agent=None)
        await raise_event(uow, reminder, ordering_key=record.compose_id)
    return {"reminded": [record.id for record in claimed]}


async def request_expired_removals(cmd: RequestExpiredRemovals, uow: UnitOfWork,
                                   actor: Actor, roles: Roles) -> dict[str, Any]:
    """One `compose-removal-requested` per compose a policy says has expired; never
    twice for one compose (a removal_requests row records it)."""
    _require_admin(actor, roles)
    promoted_tags = list(cmd.ladder[1:])
    requested: list[str] = []
    for policy in cmd.policies:
        cutoff = uow.now() - timedelta(days=policy.days)
        candidates = await uow.removal_requests.candidates(
            cutoff, policy.compose_type, policy.release_short, promoted_tags,
            cmd.limit - len(requested))
        for pk, compose_id in candidates:
            if not await uow.removal_requests.claim(pk, policy.describe()):
                continue
            reason = f"Expired: {policy.describe()}"
            await uow.composes.add_change(pk, "removal_requested", actor.username, reason,
                                          None)
            compose = await uow.composes.representation(pk)
            await raise_event(uow, ComposeRemovalRequested(reason=reason, compose=compose,
                                                           agent=None),
                              ordering_key=compose_id)
            requested.append(compose_id)
    return {"requested": requested}
