"""Message schemas: what CTS publishes (`schemas.published`).

Each class is registered under the `fedora.messages` entry point (setup.py) with the
name in `SCHEMA_NAMES`; that name travels in the `fedora_messaging_schema` header and
is how receivers find the class again.
"""

from __future__ import annotations

from fedora_messaging.message import Message

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
    ImportRequestV1,
    MarkRemovedRequestV1,
    PromotionDecisionV1,
    PromotionRequestV1,
    SetUrlRequestV1,
    TagRequestV1,
    UntagRequestV1,
)

# The `event` field of a body (and the topic without its prefix) → its current class.
PUBLISHED_BY_EVENT: dict[str, type[ComposeMessage]] = {
    "compose-created": ComposeCreatedV1,
    "compose-tagged": ComposeTaggedV1,
    "compose-untagged": ComposeUntaggedV1,
    "compose-changed": ComposeChangedV1,
    "compose-removed": ComposeRemovedV1,
    "compose-promotion-requested": ComposePromotionRequestedV1,
    "compose-promoted": ComposePromotedV1,
    "compose-promotion-rejected": ComposePromotionRejectedV1,
    "compose-promotion-withdrawn": ComposePromotionWithdrawnV1,
    "compose-promotion-reminder": ComposePromotionReminderV1,
    "compose-removal-requested": ComposeRemovalRequestedV1,
    "compose-contents-imported": ComposeContentsImportedV1,
}

# Entry point names, kept equal to setup.py's (a unit test compares them). The relay
# reads them from here rather than from installed metadata, so a stale install cannot
# put a wrong schema name on the wire.
SCHEMA_NAMES: dict[type[Message], str] = {
    ComposeCreatedV1: "cts.compose.created",
    ComposeTaggedV1: "cts.compose.tagged",
    ComposeUntaggedV1: "cts.compose.untagged",
    ComposeChangedV1: "cts.compose.changed",
    ComposeRemovedV1: "cts.compose.removed",
    ComposePromotionRequestedV1: "cts.compose.promotion_requested",
    ComposePromotedV1: "cts.compose.promoted",
    ComposePromotionRejectedV1: "cts.compose.promotion_rejected",
    ComposePromotionWithdrawnV1: "cts.compose.promotion_withdrawn",
    ComposePromotionReminderV1: "cts.compose.promotion_reminder",
    ComposeRemovalRequestedV1: "cts.compose.removal_requested",
    ComposeContentsImportedV1: "cts.compose.contents_imported",
    # Requests CTS accepts on the bus (schemas.requests).
    ImportRequestV1: "cts.request.import",
    TagRequestV1: "cts.request.tag",
    UntagRequestV1: "cts.request.untag",
    SetUrlRequestV1: "cts.request.set_url",
    MarkRemovedRequestV1: "cts.request.mark_removed",
    PromotionRequestV1: "cts.request.promotion",
    PromotionDecisionV1: "cts.request.promotion_decision",
    # fedora-messaging's own name for the schema-less base class.
    Message: "base.message",
}

# The distribution that ships these classes, for the fedora_messaging_schema_package
# header: a receiver without them is told what to install.
SCHEMA_PACKAGE = "ctsd"


def message_class_for(event: str | None) -> type[Message]:
    """The class for a body's `event`; the plain base class for an event without one.

    An event without a schema still gets published (a new kind of change must not wait
    for its schema), just as the base `Message` that receivers treat as any JSON object.
    """
    return PUBLISHED_BY_EVENT.get(event or "", Message)


def schema_name(cls: type[Message]) -> str:
    return SCHEMA_NAMES[cls]


__all__ = [
    "PUBLISHED_BY_EVENT",
    "SCHEMA_NAMES",
    "SCHEMA_PACKAGE",
    "ComposeChangedV1",
    "ComposeCreatedV1",
    "ComposeMessage",
    "ComposeTaggedV1",
    "ComposeUntaggedV1",
    "message_class_for",
    "schema_name",
]
