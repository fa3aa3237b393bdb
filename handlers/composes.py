"""Compose commands: import (ID allocation), tag, untag, set location.

Each handler runs inside one unit of work: state change, history row and outbox event
commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from handlers import v1_texts
from handlers.commands import ImportCompose, SetComposeUrl, TagCompose, UntagCompose
from handlers.composeinfo import likely_stream_and_respin, parse_compose_info
from handlers.contents_hooks import (
    has_variant_arches,
    queue_contents_fetch,
    record_variant_arches,
)
from handlers.errors import Forbidden, InvalidInput, NotFound
from handlers.events import (
    ComposeChanged,
    ComposeCreated,
    ComposeTagged,
    ComposeUntagged,
    announce,
)
from handlers.gates import check_gates
from handlers.identity import Actor, Roles
from handlers.ports import ComposeRef, TagRecord, UnitOfWork
from handlers.validation import check_http_url, check_user_data

MAX_PARENTS = 100


async def import_compose(cmd: ImportCompose, uow: UnitOfWork, actor: Actor,
                         roles: Roles) -> dict[str, Any]:
    """Store a new compose under a fresh, unique ID; answer its ComposeInfo."""
    if not roles.can_create_compose(actor):
        raise Forbidden(f"User {actor.username} is not allowed to create composes")
    parsed = parse_compose_info(cmd.compose_info)
    if cmd.compose_url is not None:
        check_http_url(cmd.compose_url, "compose_url")
    parent_pks = await _existing(uow, list(cmd.parent_compose_ids), "parent_compose_ids")
    respin_of_pk = None
    if cmd.respin_of:  # "" is "not a respin", as the existing CTS reads it
        respin_of_pk = (await _existing(uow, [cmd.respin_of], "respin_of"))[0]

    grant = await uow.composes.allocate_respin(parsed.stream, parsed.info.compose.respin)
    if grant.respin is None:
        # This very import already committed; its answer never reached the client.
        kept: dict[str, Any] = grant.kept_answer
        return kept
    parsed = parsed.with_respin(grant.respin)
    compose_info = parsed.to_json()
    # The usual import writes nothing more that refers to the compose (no parents,
    # variants or location yet): its row may then wait for commit.
    more_rows = bool(parent_pks or has_variant_arches(compose_info) or cmd.compose_url)
    pk = await uow.composes.insert(parsed.columns(), compose_info, actor.username,
                                   cmd.compose_url, respin_of_pk, more_rows=more_rows)
    await uow.composes.add_parents(pk, parent_pks)
    await record_variant_arches(uow, pk, compose_info)
    if cmd.compose_url is not None:
        await uow.locations.add(pk, cmd.compose_url, actor.username)
    await uow.composes.add_change(pk, "created", actor.username,
                                  f"Compose {parsed.info.compose.id} created", None)
    await announce(uow, ComposeCreated, pk, parsed.info.compose.id, actor)
    return compose_info


def respin_wanted(cmd: ImportCompose, actor: Actor, roles: Roles) -> tuple[str, int] | None:
    """The stream and respin import_compose will ask allocate_respin for, if it gets
    that far on what the command carries alone; None if it surely fails before (it then
    says why). Read without parsing the ComposeInfo (likely_stream_and_respin): an
    import that is refused after all, by productmd or for a parent it names, has its
    allocation given back; that leaves a gap in its stream's respins only if another
    import of that stream took the next one in the few milliseconds between."""
    if not roles.can_create_compose(actor):
        return None
    if cmd.compose_url is not None:
        try:
            check_http_url(cmd.compose_url, "compose_url")
        except InvalidInput:
            return None
    return likely_stream_and_respin(cmd.compose_info)


async def _existing(uow: UnitOfWork, compose_ids: list[str], field: str) -> list[int]:
    if len(compose_ids) > MAX_PARENTS:
        raise InvalidInput(f'"{field}" may name at most {MAX_PARENTS} composes')
    if not all(isinstance(cid, str) and cid for cid in compose_ids):
        raise InvalidInput(f'"{field}" must contain compose id strings')
    found = await uow.composes.pks_of(compose_ids)
    missing = [cid for cid in compose_ids if cid not in found]
    if missing:
        raise InvalidInput(f'"{field}": unknown compose(s) {", ".join(missing)}')
    return list(dict.fromkeys(found[cid] for cid in compose_ids))


async def tag_compose(cmd: TagCompose, uow: UnitOfWork, actor: Actor,
                      roles: Roles) -> dict[str, Any]:
    """Add a tag; tagging an already-tagged compose is a silent success with no event."""
    check_user_data(cmd.user_data)
    compose, tag = await _compose_and_tag(uow, cmd.compose_id, cmd.tag)
    require_tag_role(tag, "tagger", actor, roles)
    await apply_tag(uow, compose, tag, actor, cmd.user_data)
    return await uow.composes.representation(compose.pk)


async def apply_tag(uow: UnitOfWork, compose: ComposeRef, tag: TagRecord, actor: Actor,
                    user_data: str | None) -> bool:
    """Add the tag if its gates allow, with its history row and v1 message; False if the
    compose already had it (then nothing is written)."""
    await check_gates(uow, compose.pk, compose.compose_id, tag)
    if not await uow.composes.add_tag(compose.pk, tag.id):
        return False
    await uow.composes.add_change(compose.pk, "tagged", actor.username,
                                  v1_texts.tag_added(actor.username, tag.name),
                                  user_data)
    await announce(uow, ComposeTagged, compose.pk, compose.compose_id, actor,
                    tag=tag.name, user_data=user_data)
    return True


async def untag_compose(cmd: UntagCompose, uow: UnitOfWork, actor: Actor,
                        roles: Roles) -> dict[str, Any]:
    """Remove a tag; untagging a compose without it is a silent success with no event."""
    check_user_data(cmd.user_data)
    compose, tag = await _compose_and_tag(uow, cmd.compose_id, cmd.tag)
    require_tag_role(tag, "untagger", actor, roles)
    await apply_untag(uow, compose, tag, actor, cmd.user_data)
    return await uow.composes.representation(compose.pk)


async def apply_untag(uow: UnitOfWork, compose: ComposeRef, tag: TagRecord, actor: Actor,
                      user_data: str | None) -> bool:
    """Remove the tag with its history row and v1 message; False if it was not there."""
    if not await uow.composes.remove_tag(compose.pk, tag.id):
        return False
    await uow.composes.add_change(compose.pk, "untagged", actor.username,
                                  v1_texts.tag_removed(actor.username, tag.name),
                                  user_data)
    await announce(uow, ComposeUntagged, compose.pk, compose.compose_id, actor,
                    tag=tag.name, user_data=user_data)
    return True


async def set_compose_url(cmd: SetComposeUrl, uow: UnitOfWork, actor: Actor,
                          roles: Roles) -> dict[str, Any]:
    """Record where the compose lives now; an unchanged URL is a no-op."""
    if not roles.can_set_url(actor):
        raise Forbidden(f"User {actor.username} is not allowed to set compose URLs")
    url = check_http_url(cmd.compose_url, "compose_url")
    check_user_data(cmd.user_data)
    compose = await locked_compose(uow, cmd.compose_id)
    if compose.compose_url != url:
        await uow.composes.set_url(compose.pk, url)
        await uow.locations.add(compose.pk, url, actor.username)
        await queue_contents_fetch(uow, compose.pk, url)
        await uow.composes.add_change(compose.pk, "url_changed", actor.username,
                                      f"Location changed to {url}", cmd.user_data)
        await announce(uow, ComposeChanged, compose.pk, compose.compose_id, actor)
    return await uow.composes.representation(compose.pk)


async def locked_compose(uow: UnitOfWork, compose_id: str) -> ComposeRef:
    """The compose, locked for change until commit; NotFound if there is none."""
    # Locking the compose row serialises every change to one compose, which keeps its
    # history, its outbox order and the "compose after the change" in messages exact.
    compose = await uow.composes.lock(compose_id)
    if compose is None:
        raise NotFound(v1_texts.NO_SUCH_COMPOSE)
    return compose


async def _compose_and_tag(uow: UnitOfWork, compose_id: str,
                           tag_name: str) -> tuple[ComposeRef, TagRecord]:
    if not isinstance(tag_name, str) or not tag_name:
        raise InvalidInput(v1_texts.NO_TAG_FIELD)
    tag = await uow.tags.get(tag_name)
    if tag is None or tag.name != tag_name:
        raise InvalidInput(v1_texts.tag_does_not_exist(tag_name))
    return await locked_compose(uow, compose_id), tag


def has_tag_role(tag: TagRecord, role: str, actor: Actor, roles: Roles) -> bool:
    return (roles.is_admin(actor) or actor.username in tag.principals(role, "user")
            or bool(actor.groups & tag.principals(role, "group")))


def require_tag_role(tag: TagRecord, role: str, actor: Actor, roles: Roles) -> None:
    if has_tag_role(tag, role, actor, roles):
        return
    raise Forbidden(v1_texts.lacks_tag_permission(actor.username, role, tag.name))
