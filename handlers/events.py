"""The change messages handlers raise (messages.md), as typed values.

Each class is one kind of message; `event` is its `event` field and its topic after
the configured prefix. `raise_event` queues one in the unit of work's outbox. The
published schema of each class is found through the one registry, `schemas.registry`.
Checks in `EVENT_CHECKS` run on every event raised: the tests put the schema validation
there, so an event that its schema refuses fails the handler test that raised it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from handlers.identity import Actor
from handlers.ports import UnitOfWork


@dataclass(frozen=True, kw_only=True)
class ChangeEvent:
    """A message about one compose: the compose as it is now and who changed it
    (None: the daemon itself re-announces or asks)."""

    event: ClassVar[str]
    compose: dict[str, Any]
    agent: str | None

    def body(self) -> dict[str, Any]:
        """The message body: `event`, the kind's own fields, then compose and agent
        (the order messages have always had)."""
        own = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("compose", "agent")}
        return {"event": self.event, **own, "compose": self.compose, "agent": self.agent}


@dataclass(frozen=True, kw_only=True)
class ComposeCreated(ChangeEvent):
    event: ClassVar[str] = "compose-created"


@dataclass(frozen=True, kw_only=True)
class ComposeChanged(ChangeEvent):
    event: ClassVar[str] = "compose-changed"


@dataclass(frozen=True, kw_only=True)
class ComposeRemoved(ChangeEvent):
    event: ClassVar[str] = "compose-removed"


@dataclass(frozen=True, kw_only=True)
class ComposeTagged(ChangeEvent):
    event: ClassVar[str] = "compose-tagged"
    tag: str
    user_data: str | None


@dataclass(frozen=True, kw_only=True)
class ComposeUntagged(ChangeEvent):
    event: ClassVar[str] = "compose-untagged"
    tag: str
    user_data: str | None


@dataclass(frozen=True, kw_only=True)
class ComposeContentsImported(ChangeEvent):
    """The compose's RPM or image list is stored or replaced; `contents` names the kind,
    the number of entries and their digest."""

    event: ClassVar[str] = "compose-contents-imported"
    contents: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class PromotionEvent(ChangeEvent):
    """A promotion request changed; `promotion` is the request as it is now."""

    promotion: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ComposePromotionRequested(PromotionEvent):
    event: ClassVar[str] = "compose-promotion-requested"


@dataclass(frozen=True, kw_only=True)
class ComposePromoted(PromotionEvent):
    event: ClassVar[str] = "compose-promoted"


@dataclass(frozen=True, kw_only=True)
class ComposePromotionRejected(PromotionEvent):
    event: ClassVar[str] = "compose-promotion-rejected"


@dataclass(frozen=True, kw_only=True)
class ComposePromotionWithdrawn(PromotionEvent):
    event: ClassVar[str] = "compose-promotion-withdrawn"


@dataclass(frozen=True, kw_only=True)
class ComposePromotionReminder(PromotionEvent):
    event: ClassVar[str] = "compose-promotion-reminder"


@dataclass(frozen=True, kw_only=True)
class ComposeRemovalRequested(ChangeEvent):
    event: ClassVar[str] = "compose-removal-requested"
    reason: str


EVENT_TYPES: tuple[type[ChangeEvent], ...] = (
    ComposeCreated, ComposeTagged, ComposeUntagged, ComposeChanged, ComposeRemoved,
    ComposePromotionRequested, ComposePromoted, ComposePromotionRejected,
    ComposePromotionWithdrawn, ComposePromotionReminder, ComposeRemovalRequested,
    ComposeContentsImported,
)

# Run on every event raised, before it is queued (tests add schema validation here).
EVENT_CHECKS: list[Callable[[ChangeEvent], None]] = []


async def raise_event(uow: UnitOfWork, event: ChangeEvent, ordering_key: str | None) -> None:
    """Queue the event in the unit of work's outbox (it commits with the change)."""
    for check in EVENT_CHECKS:
        check(event)
    await uow.emit(event.event, event.body(), ordering_key=ordering_key)


async def announce(uow: UnitOfWork, kind: type[ChangeEvent], compose_pk: int,
                   compose_id: str, actor: Actor, **fields: Any) -> None:
    """Raise the change message `kind` (messages.md) with the compose as it is now, by
    `actor`, with the kind's own `fields`."""
    compose = await uow.composes.representation(compose_pk)
    await raise_event(uow, kind(compose=compose, agent=actor.username, **fields),
                      ordering_key=compose_id)
