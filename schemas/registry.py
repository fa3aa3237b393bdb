"""The one message registry: every message CTS publishes or accepts, with its schema
class, its `fedora.messages` entry point name and its topic.

Everything else derives from here: `schemas.PUBLISHED_BY_EVENT`, `SCHEMA_NAMES`,
`REQUEST_SCHEMAS`, the consumer's request topics, and the entry points in setup.py
(which cannot import this at build time; tests/unit/test_registry.py checks them).
"""

from __future__ import annotations

from dataclasses import dataclass

from fedora_messaging.message import Message

from handlers import events
from schemas.published import (
    ComposeChangedV1,
    ComposeCreatedV1,
    ComposeMessage,
    ComposeRemovedV1,
    ComposeTaggedV1,
    ComposeUntaggedV1,
)
from schemas.published_contents import ComposeContentsImportedV1
from schemas.published_workflow import (
    ComposePromotedV1,
    ComposePromotionRejectedV1,
    ComposePromotionReminderV1,
    ComposePromotionRequestedV1,
    ComposePromotionWithdrawnV1,
    ComposeRemovalRequestedV1,
)
from schemas.requests import (
    FetchContentsRequestV1,
    ImportRequestV1,
    MarkRemovedRequestV1,
    PromotionDecisionV1,
    PromotionRequestV1,
    SetUrlRequestV1,
    TagRequestV1,
    UntagRequestV1,
)


@dataclass(frozen=True)
class Published:
    """A message CTS publishes: raised by handlers as `event`, validated by `schema`."""

    name: str  # entry point and fedora_messaging_schema header
    schema: type[ComposeMessage]
    event: type[events.ChangeEvent]

    @property
    def topic(self) -> str:
        """The topic after the configured prefix: the event's name."""
        return self.event.event


@dataclass(frozen=True)
class Accepted:
    """A request CTS accepts on the bus, on `<prefix><topic>`."""

    name: str
    schema: type[Message]
    topic: str


PUBLISHED: tuple[Published, ...] = (
    Published("cts.compose.created", ComposeCreatedV1, events.ComposeCreated),
    Published("cts.compose.tagged", ComposeTaggedV1, events.ComposeTagged),
    Published("cts.compose.untagged", ComposeUntaggedV1, events.ComposeUntagged),
    Published("cts.compose.changed", ComposeChangedV1, events.ComposeChanged),
    Published("cts.compose.removed", ComposeRemovedV1, events.ComposeRemoved),
    Published("cts.compose.promotion_requested", ComposePromotionRequestedV1,
              events.ComposePromotionRequested),
    Published("cts.compose.promoted", ComposePromotedV1, events.ComposePromoted),
    Published("cts.compose.promotion_rejected", ComposePromotionRejectedV1,
              events.ComposePromotionRejected),
    Published("cts.compose.promotion_withdrawn", ComposePromotionWithdrawnV1,
              events.ComposePromotionWithdrawn),
    Published("cts.compose.promotion_reminder", ComposePromotionReminderV1,
              events.ComposePromotionReminder),
    Published("cts.compose.removal_requested", ComposeRemovalRequestedV1,
              events.ComposeRemovalRequested),
    Published("cts.compose.contents_imported", ComposeContentsImportedV1,
              events.ComposeContentsImported),
)

ACCEPTED: tuple[Accepted, ...] = (
    Accepted("cts.request.import", ImportRequestV1, "request.import"),
    Accepted("cts.request.tag", TagRequestV1, "request.tag"),
    Accepted("cts.request.untag", UntagRequestV1, "request.untag"),
    Accepted("cts.request.set_url", SetUrlRequestV1, "request.set_url"),
    Accepted("cts.request.mark_removed", MarkRemovedRequestV1, "request.mark_removed"),
    Accepted("cts.request.promotion", PromotionRequestV1, "request.promotion"),
    Accepted("cts.request.promotion_decision", PromotionDecisionV1,
             "request.promotion_decision"),
    Accepted("cts.request.fetch_contents", FetchContentsRequestV1, "request.fetch_contents"),
)

ALL: tuple[Published | Accepted, ...] = (*PUBLISHED, *ACCEPTED)

# The `event` field of a body (and the topic without its prefix) → its current class.
PUBLISHED_BY_EVENT: dict[str, type[ComposeMessage]] = {
    entry.topic: entry.schema for entry in PUBLISHED}
# A raised event's type → the class its body must satisfy.
SCHEMA_OF_EVENT: dict[type[events.ChangeEvent], type[ComposeMessage]] = {
    entry.event: entry.schema for entry in PUBLISHED}
# Topic after the configured prefix → the class whose `body_schema` a request must meet.
REQUEST_SCHEMAS: dict[str, type[Message]] = {entry.topic: entry.schema for entry in ACCEPTED}
# Entry point names. The relay reads them from here rather than from installed metadata,
# so a stale install cannot put a wrong schema name on the wire.
SCHEMA_NAMES: dict[type[Message], str] = {
    **{entry.schema: entry.name for entry in ALL},
    # fedora-messaging's own name for the schema-less base class.
    Message: "base.message",
}


def entry_points() -> list[str]:
    """The `fedora.messages` entry points setup.py must declare, in registry order."""
    return [f"{entry.name}={entry.schema.__module__}:{entry.schema.__name__}"
            for entry in ALL]
