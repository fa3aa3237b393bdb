"""Message schemas: what CTS publishes (`schemas.published`, `schemas.published_workflow`)
and accepts (`schemas.requests`).

Each class is registered under the `fedora.messages` entry point (setup.py) with the
name `schemas.registry` gives it (`SCHEMA_NAMES`); that name travels in the
`fedora_messaging_schema` header and is how receivers find the class again.
"""

from __future__ import annotations

from fedora_messaging.message import Message

from schemas.published import (
    ComposeChangedV1,
    ComposeCreatedV1,
    ComposeMessage,
    ComposeTaggedV1,
    ComposeUntaggedV1,
)
from schemas.registry import PUBLISHED_BY_EVENT, REQUEST_SCHEMAS, SCHEMA_NAMES

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
    "REQUEST_SCHEMAS",
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
