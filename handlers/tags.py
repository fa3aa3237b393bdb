"""Tag commands: create, edit, and manage who may tag or untag with a tag.

Only admins manage tags. Every real change writes one tag history row; repeating a
change that is already in effect (re-adding a tagger) writes nothing.
"""

from __future__ import annotations

from typing import Any

from handlers import v1_texts
from handlers.commands import (
    TAG_PERMISSION_ACTIONS,
    ChangeTagPermission,
    CreateTag,
    EditTag,
)
from handlers.errors import Forbidden, InvalidInput, NotFound
from handlers.identity import Actor, Roles
from handlers.ports import TagRecord, UnitOfWork
from handlers.validation import check_text, check_user_data

MAX_TAG_NAME = 255


def check_tag_name(value: object) -> str:
    name = check_text(value, "name", max_length=MAX_TAG_NAME)
    if name != name.strip() or any(ch.isspace() for ch in name):
        raise InvalidInput('"name" must not contain whitespace')
    if name.startswith("-") or (name.isascii() and name.isdigit()):
        # "-x" means "not tagged x" in list filters; a name of ASCII digits would read as
        # an id (handlers/identifiers.py); "²" would not, so it may be a name.
        raise InvalidInput('"name" must not start with "-" or be only digits')
    return name


async def create_tag(cmd: CreateTag, uow: UnitOfWork, actor: Actor,
                     roles: Roles) -> dict[str, Any]:
    _require_admin(actor, roles)
    check_user_data(cmd.user_data)
    name = check_tag_name(cmd.name)
    description = check_text(cmd.description, "description")
    documentation = check_text(cmd.documentation, "documentation")
    if await uow.tags.name_taken(name):
        raise InvalidInput(f"Tag {name} already exists")
    tag_id = await uow.tags.create(name, description, documentation)
    await uow.tags.add_change(tag_id, "created", actor.username, f"Tag {name} created",
                              cmd.user_data)
    return await uow.tags.representation(tag_id)


async def edit_tag(cmd: EditTag, uow: UnitOfWork, actor: Actor, roles: Roles) -> dict[str, Any]:
    _require_admin(actor, roles)
    check_user_data(cmd.user_data)
    tag = await _existing_tag(uow, cmd.tag)
    wanted: dict[str, str] = {}
    if cmd.name is not None:
        wanted["name"] = check_tag_name(cmd.name)
    if cmd.description is not None:
        wanted["description"] = check_text(cmd.description, "description")
    if cmd.documentation is not None:
        wanted["documentation"] = check_text(cmd.documentation, "documentation")
    changed = {key: value for key, value in wanted.items() if getattr(tag, key) != value}
    if "name" in changed and await uow.tags.name_taken(changed["name"]):
        raise InvalidInput(f"Tag {changed['name']} already exists")
    if changed:
        await uow.tags.update(tag.id, changed)
        summary = ", ".join(f"{key} changed" for key in sorted(changed))
        await uow.tags.add_change(tag.id, "edited", actor.username, summary, cmd.user_data)
    if cmd.permission is not None:
        await _change_permission(cmd.permission, tag, uow, actor)
    return await uow.tags.representation(tag.id)


async def change_tag_permission(cmd: ChangeTagPermission, uow: UnitOfWork, actor: Actor,
                                roles: Roles) -> dict[str, Any]:
    _require_admin(actor, roles)
    tag = await _existing_tag(uow, cmd.tag)
    await _change_permission(cmd, tag, uow, actor)
    return await uow.tags.representation(tag.id)


async def _change_permission(cmd: ChangeTagPermission, tag: TagRecord, uow: UnitOfWork,
                             actor: Actor) -> None:
    if cmd.action not in TAG_PERMISSION_ACTIONS:
        raise InvalidInput(
            f"Unknown action {cmd.action!r}; expected one of {', '.join(TAG_PERMISSION_ACTIONS)}"
        )
    given = [("user", cmd.username), ("group", cmd.group)]
    principals = [(kind, name) for kind, name in given if name is not None]
    if not principals:
        raise InvalidInput(f'Action {cmd.action} needs "username" and/or "group"')
    for kind, name in principals:
        check_text(name, "username" if kind == "user" else "group", max_length=255)
    verb, role = cmd.action.split("_", 1)
    for kind, name in principals:
        if verb == "add":
            changed = await uow.tags.add_permission(tag.id, role, kind, name)
        else:
            changed = await uow.tags.remove_permission(tag.id, role, kind, name)
        if changed:
            await uow.tags.add_change(tag.id, cmd.action, actor.username,
                                      v1_texts.permission_changed(cmd.action, kind, name),
                                      cmd.user_data)


async def _existing_tag(uow: UnitOfWork, id_or_name: str) -> TagRecord:
    tag = await uow.tags.get(id_or_name)
    if tag is None:
        raise NotFound(v1_texts.NO_SUCH_TAG)
    return tag


def _require_admin(actor: Actor, roles: Roles) -> None:
    if not roles.can_manage_tags(actor):
        raise Forbidden(f"User {actor.username} is not an admin")
