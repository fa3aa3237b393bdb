"""Compose lifecycle commands: the build status the build tool reports, and removal.

Both come mostly from the bus (Pungi's status changes, ODCS's removals) but are ordinary
commands: they need the same role as setting the location (`allowed_builders`), and
each real change writes one history row and one outbox event in one transaction.
"""

from __future__ import annotations

from typing import Any

from handlers.commands import (
    BUILD_STATUSES,
    MarkRemoved,
    RecordBuildStatus,
    RemoveCompose,
    SetComposeUrl,
)

# The compose handlers own locking and the message shape; lifecycle changes must lock
# and announce exactly as they do, so they share those helpers rather than copy them.
from handlers.composes import locked_compose, set_compose_url
from handlers.contents_hooks import FINISHED_STATUSES, queue_contents_fetch
from handlers.errors import Forbidden, InvalidInput
from handlers.events import ComposeChanged, ComposeRemoved, announce
from handlers.identity import Actor, Roles
from handlers.ports import UnitOfWork
from handlers.validation import MAX_USER_DATA_LENGTH, check_http_url


async def record_build_status(cmd: RecordBuildStatus, uow: UnitOfWork, actor: Actor,
                              roles: Roles) -> dict[str, Any]:
    """Store the build status; a status equal to the stored one changes nothing."""
    _require_builder(actor, roles, "record build statuses")
    status = _check_status(cmd.status)
    url = _location_url(cmd.location)
    compose = await locked_compose(uow, cmd.compose_id)
    status_changed = await uow.composes.set_build_status(compose.pk, status)
    if status_changed:
        await uow.composes.add_change(compose.pk, "build_status", actor.username,
                                      f"Build status changed to {status}", None)
        unmoved = url in (None, compose.compose_url)
        if status in FINISHED_STATUSES and compose.compose_url and unmoved:
            # The metadata/ folder is complete now: fetch the contents from where it is.
            await queue_contents_fetch(uow, compose.pk, compose.compose_url)
    if url is not None and url != compose.compose_url:
        # set_url's own path stores the location with its history row and announces the
        # one compose-changed event, which then carries the new build status as well.
        return await set_compose_url(SetComposeUrl(compose.compose_id, url), uow, actor,
                                     roles)
    if status_changed:
        await announce(uow, ComposeChanged, compose.pk, compose.compose_id, actor)
    return await uow.composes.representation(compose.pk)


async def mark_removed(cmd: MarkRemoved, uow: UnitOfWork, actor: Actor,
                       roles: Roles) -> dict[str, Any]:
    """Mark the compose removed; marking a removed compose again changes nothing."""
    _require_builder(actor, roles, "mark composes removed")
    reason = _check_reason(cmd.reason)
    compose = await locked_compose(uow, cmd.compose_id)
    if await uow.composes.mark_removed(compose.pk, reason):
        message = f"Removed: {reason}" if reason else "Removed"
        await uow.composes.add_change(compose.pk, "removed", actor.username, message, None)
        await announce(uow, ComposeRemoved, compose.pk, compose.compose_id, actor)
    return await uow.composes.representation(compose.pk)


async def remove_compose(cmd: RemoveCompose, uow: UnitOfWork, actor: Actor,
                         roles: Roles) -> dict[str, Any]:
    """A removal someone decided: mark_removed, once the reason is there."""
    if not isinstance(cmd.reason, str) or not cmd.reason.strip():
        raise InvalidInput('"reason" is required and must be a non-empty string')
    return await mark_removed(MarkRemoved(cmd.compose_id, cmd.reason), uow, actor, roles)


def _require_builder(actor: Actor, roles: Roles, what: str) -> None:
    # Whoever may say where a compose lives may also say how its build went and that it
    # is gone: in practice the same build services (Pungi, ODCS).
    if not roles.can_set_url(actor):
        raise Forbidden(f"User {actor.username} is not allowed to {what}")


def _check_status(value: object) -> str:
    if value not in BUILD_STATUSES:
        raise InvalidInput(f'"status" must be one of {", ".join(BUILD_STATUSES)}, '
                           f"got {value!r}")
    return str(value)


def _location_url(location: str | None) -> str | None:
    """The location as a compose URL, or None when it is a filesystem path.

    A path the sender could not translate is of no use to anyone fetching the compose,
    so it leaves the URL alone; something that claims to be a URL must be a valid one.
    """
    if location is None:
        return None
    if not isinstance(location, str):
        raise InvalidInput('"location" must be a string')
    if not location.lower().startswith(("http://", "https://")):
        return None
    return check_http_url(location, "location")


def _check_reason(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput('"reason" must be a string')
    if len(value) > MAX_USER_DATA_LENGTH:
        raise InvalidInput(f'"reason" is longer than {MAX_USER_DATA_LENGTH} characters')
    return value or None
