"""Contents commands: import a compose's rpms.json / images.json; a fetch that gave up.

Same rules as every compose change: the allowed builders (and admins) may do it, the
compose row is locked, and a real change writes one history row and one
`compose-contents-imported` message in the same transaction. Identical contents (same
digest of every entry) change nothing and announce nothing.
"""

from __future__ import annotations

from typing import Any

from handlers.composes import locked_compose
from handlers.contents_commands import (
    CONTENT_KINDS,
    FetchComposeContents,
    ImportComposeContents,
    RecordContentsFetchFailure,
)
from handlers.contents_hooks import contents_of
from handlers.contents_parse import ParsedImages, ParsedRpms, parse_images, parse_rpms
from handlers.errors import Forbidden, InvalidInput
from handlers.events import ComposeContentsImported, announce
from handlers.identity import Actor, Roles
from handlers.ports import UnitOfWork

MAX_REASON = 2000


async def import_contents(cmd: ImportComposeContents, uow: UnitOfWork, actor: Actor,
                          roles: Roles) -> dict[str, Any]:
    """Answer {compose_id, kind, count, digest, changed}."""
    if not roles.can_create_compose(actor):
        raise Forbidden(f"User {actor.username} is not allowed to import compose contents")
    if cmd.kind not in CONTENT_KINDS:
        raise InvalidInput(f"Contents kind must be one of {', '.join(CONTENT_KINDS)}")
    parsed: ParsedRpms | ParsedImages = (
        parse_rpms(cmd.document) if cmd.kind == "rpms" else parse_images(cmd.document))
    if parsed.compose_id != cmd.compose_id:
        raise InvalidInput(f"The {cmd.kind} file is for compose {parsed.compose_id}, "
                           f"not {cmd.compose_id}")
    compose = await locked_compose(uow, cmd.compose_id)
    store = contents_of(uow)
    if isinstance(parsed, ParsedRpms):
        changed = await store.replace_rpms(compose.pk, parsed, actor.username)
    else:
        changed = await store.replace_images(compose.pk, parsed, actor.username)
    if cmd.fetch_url is not None:
        await store.complete_fetch(compose.pk, cmd.fetch_url)
    summary = {"compose_id": compose.compose_id, "kind": cmd.kind,
               "count": len(parsed.entries), "digest": parsed.digest}
    if changed:
        await uow.composes.add_change(
            compose.pk, "contents_imported", actor.username,
            f"Contents imported: {len(parsed.entries)} {cmd.kind}", None)
        await announce(uow, ComposeContentsImported, compose.pk, compose.compose_id,
                       actor, contents=summary)
    return {**summary, "changed": changed}


async def record_fetch_failure(cmd: RecordContentsFetchFailure, uow: UnitOfWork,
                               actor: Actor, roles: Roles) -> dict[str, Any]:
    """Mark the compose's fetch job failed for good, with a history row naming why."""
    if not roles.can_create_compose(actor):
        raise Forbidden(f"User {actor.username} is not allowed to record fetch failures")
    reason = str(cmd.reason)[:MAX_REASON]
    compose = await locked_compose(uow, cmd.compose_id)
    if await contents_of(uow).fail_fetch(compose.pk, reason):
        await uow.composes.add_change(compose.pk, "contents_fetch_failed", actor.username,
                                      f"Fetching contents failed: {reason}", None)
    return {"compose_id": compose.compose_id, "state": "failed", "reason": reason}


async def request_contents_fetch(cmd: FetchComposeContents, uow: UnitOfWork, actor: Actor,
                                 roles: Roles) -> dict[str, Any]:
    """Queue the durable fetch job (the import then runs as ImportComposeContents, with
    its own history row and message); answer {compose_id, url, state}."""
    if not roles.can_create_compose(actor):
        raise Forbidden(f"User {actor.username} is not allowed to import compose contents")
    compose = await locked_compose(uow, cmd.compose_id)
    url = cmd.compose_url or compose.compose_url
    if not url:
        raise InvalidInput(f"Compose {compose.compose_id} has no location: "
                           "give compose_url to fetch its contents from")
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidInput(f"Contents are fetched over HTTP(S), not from {url!r}")
    await contents_of(uow).queue_fetch(compose.pk, url, requested=True)
    await uow.composes.add_change(compose.pk, "contents_fetch_requested", actor.username,
                                  f"Contents fetch requested from {url}", None)
    return {"compose_id": compose.compose_id, "url": url, "state": "pending"}
