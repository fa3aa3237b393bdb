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
from handlers.contents import import_contents, record_fetch_failure, request_contents_fetch
from handlers.contents_commands import (
    FetchComposeContents,
    ImportComposeContents,
    RecordContentsFetchFailure,
)
from handlers.gates import set_tag_gates
from handlers.identity import Actor, Roles
from handlers.lifecycle import mark_removed, record_build_status, remove_compose
from handlers.ports import UnitOfWork
from handlers.promotions import decide_promotion, request_promotion
from handlers.tags import change_tag_permission, create_tag, edit_tag
from handlers.workflow_tasks import (
    ensure_ladder_tags,
    remind_stale_promotions,
    request_expired_removals,
)

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
    commands.RemoveCompose: remove_compose,
    commands.RequestPromotion: request_promotion,
    commands.DecidePromotion: decide_promotion,
    commands.SetTagGates: set_tag_gates,
    commands.EnsureLadderTags: ensure_ladder_tags,
    commands.RemindStalePromotions: remind_stale_promotions,
    commands.RequestExpiredRemovals: request_expired_removals,
    ImportComposeContents: import_contents,
    RecordContentsFetchFailure: record_fetch_failure,
    FetchComposeContents: request_contents_fetch,
}
