"""Commands: what a caller asks CTS to change. HTTP, bus and CLI all build these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ImportCompose:
    compose_info: Any
    parent_compose_ids: tuple[str, ...] = ()
    respin_of: str | None = None
    compose_url: str | None = None


@dataclass(frozen=True)
class TagCompose:
    compose_id: str
    tag: str
    user_data: str | None = None


@dataclass(frozen=True)
class UntagCompose:
    compose_id: str
    tag: str
    user_data: str | None = None


@dataclass(frozen=True)
class SetComposeUrl:
    compose_id: str
    compose_url: str
    user_data: str | None = None


@dataclass(frozen=True)
class CreateTag:
    name: str
    description: str
    documentation: str
    user_data: str | None = None


@dataclass(frozen=True)
class ChangeTagPermission:
    """Add or remove a tagger/untagger (a user and/or a group) of a tag."""

    tag: str
    action: str  # add_tagger | remove_tagger | add_untagger | remove_untagger
    username: str | None = None
    group: str | None = None
    user_data: str | None = None


@dataclass(frozen=True)
class EditTag:
    """Rename or re-describe a tag (`None` leaves a field as it is), and optionally change
    its permissions in the same transaction (the v1 PATCH allows both at once)."""

    tag: str
    name: str | None = None
    description: str | None = None
    documentation: str | None = None
    user_data: str | None = None
    permission: ChangeTagPermission | None = None


TAG_PERMISSION_ACTIONS = ("add_tagger", "remove_tagger", "add_untagger", "remove_untagger")


BUILD_STATUSES = ("STARTED", "FINISHED", "FINISHED_INCOMPLETE", "DOOMED", "TERMINATED")
"""The compose statuses Pungi writes (its `Compose.write_status`)."""


@dataclass(frozen=True)
class RecordBuildStatus:
    """Record what the build tool says about a compose. `location`, when it is an
    http(s) URL, also becomes the compose URL (as `set_url` would set it)."""

    compose_id: str
    status: str
    location: str | None = None


@dataclass(frozen=True)
class MarkRemoved:
    """The compose's data is gone from storage; consumers referencing it should drop it."""

    compose_id: str
    reason: str | None = None


@dataclass(frozen=True)
class RemoveCompose:
    """Someone decided the compose is to be removed (POST .../removal): unlike a build
    service's MarkRemoved report (ODCS, `cts.request.mark_removed`), it needs a reason,
    whatever the transport, so that the history says why."""

    compose_id: str
    reason: Any = None  # checked by the handler: callers pass what they were sent


# Workflow (issue #5): promotion ladder, chained gates, reminders, expiry.

DEFAULT_LADDER = ("periodic", "nightly", "milestone-candidate", "milestone")
"""Promotion states, lowest first; `[workflow] ladder` in ctsd.toml replaces it."""


@dataclass(frozen=True)
class RequestPromotion:
    """Ask for the compose to move to `to`, the next step of `ladder` above its state."""

    compose_id: str
    to: str
    reason: str | None = None
    user_data: str | None = None
    ladder: tuple[str, ...] = DEFAULT_LADDER


@dataclass(frozen=True)
class DecidePromotion:
    """Perform, reject or withdraw a pending promotion request."""

    request_id: int
    decision: str  # perform | reject | withdraw
    reason: str | None = None
    ladder: tuple[str, ...] = DEFAULT_LADDER


PROMOTION_DECISIONS = ("perform", "reject", "withdraw")


@dataclass(frozen=True)
class SetTagGates:
    """Replace the tags that must be present (`requires`) or absent (`excludes`) before
    `tag` may be added to a compose."""

    tag: str
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    user_data: str | None = None


@dataclass(frozen=True)
class EnsureLadderTags:
    """Create the v1 tags of the ladder (`<state>` and `<state>-requested`) that are
    missing, so admins can grant taggers on them before the first promotion."""

    ladder: tuple[str, ...] = DEFAULT_LADDER


@dataclass(frozen=True)
class RemindStalePromotions:
    """Re-announce requests pending longer than `interval_seconds` since their request
    or their last reminder."""

    interval_seconds: int
    limit: int = 100


@dataclass(frozen=True)
class ExpiryPolicy:
    """Composes matching `compose_type`/`release_short` (None: any) still at the bottom of
    the ladder `days` after import get one removal-request message."""

    days: int
    compose_type: str | None = None
    release_short: str | None = None

    def describe(self) -> str:
        return (f"type={self.compose_type or '*'} release={self.release_short or '*'} "
                f"not promoted within {self.days} days")


@dataclass(frozen=True)
class RequestExpiredRemovals:
    policies: tuple[ExpiryPolicy, ...]
    ladder: tuple[str, ...] = DEFAULT_LADDER
    limit: int = 100


def composes_named(commands: list[Any]) -> list[str]:
    """The composes these commands change, in order: each locks its own first."""
    return sorted({command.compose_id for command in commands
                   if isinstance(getattr(command, "compose_id", None), str)})


def tags_named(commands: list[Any]) -> list[str]:
    """The tags these commands tag or untag with, read with the lock of their composes."""
    return sorted({command.tag for command in commands
                   if isinstance(command, TagCompose | UntagCompose)
                   and isinstance(command.tag, str)})
