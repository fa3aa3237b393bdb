"""Command handlers: the only place where CTS state changes.

`HANDLERS` says which function serves which command; HTTP views, the bus consumer and
the CLI all dispatch through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from handlers import commands
from handlers.composes import (
    import_compose,
    set_compose_url,
    tag_compose,
    untag_compose,
)
from handlers.identity import Actor, Roles
from handlers.lifecycle import mark_removed, record_build_status
from handlers.ports import UnitOfWork
from handlers.tags import change_tag_permission, create_tag, edit_tag

Handler = Callable[[Any, UnitOfWork, Actor, Roles], Awaitable[Any]]

HANDLERS: dict[type, Handler] = {
    commands.ImportCompose: import_compose,
    commands.TagCompose: tag_compose,
    commands.UntagCompose: untag_compose,
    commands.SetComposeUrl: set_compose_url,
    commands.CreateTag: create_tag,
    commands.EditTag: edit_tag,
    commands.ChangeTagPermission: change_tag_permission,
    commands.RecordBuildStatus: record_build_status,
    commands.MarkRemoved: mark_removed,
}
