"""Notifications from the tools that build composes, as far as CTS reads them.

These are other applications' messages (both are sent as the base `Message` class,
schema header `base.message`), so the classes are not registered as entry points:
they only say which fields CTS needs, and allow every other field the senders add.
Topic spellings differ per bus and environment; they are configured, not fixed here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fedora_messaging.message import Message

_SCHEMA = "http://json-schema.org/draft-04/schema#"


class PungiStatusChangeV1(Message):
    """Pungi's `status-change` notification (`pungi-fedmsg-notification`).

    `location` is the translated `<compose topdir>/compose` directory: a URL when
    Pungi's translate_paths cover it, else a filesystem path.
    """

    topic = "pungi.compose.status.change"
    body_schema: ClassVar[dict[str, Any]] = {
        "$schema": _SCHEMA,
        "description": "A Pungi compose changed status (STARTED, FINISHED, ...)",
        "type": "object",
        "properties": {
            "compose_id": {"type": "string", "minLength": 1, "maxLength": 255},
            "status": {"type": "string"},
            "location": {"type": ["string", "null"]},
        },
        "required": ["compose_id", "status"],
    }


class OdcsStateChangedV1(Message):
    """ODCS's `state-changed` event; `compose` is ODCS's compose JSON.

    `pungi_compose_id` links it to CTS; `toplevel_url` is the compose's top directory,
    the same place Pungi's own set_url names.
    """

    topic = "odcs.compose.state-changed"
    body_schema: ClassVar[dict[str, Any]] = {
        "$schema": _SCHEMA,
        "description": "An ODCS compose changed state (wait, generating, done, ...)",
        "type": "object",
        "properties": {
            "event": {"type": "string"},
            "compose": {
                "type": "object",
                "properties": {
                    "pungi_compose_id": {"type": ["string", "null"]},
                    "state_name": {"type": "string"},
                    "state_reason": {"type": ["string", "null"]},
                    "toplevel_url": {"type": ["string", "null"]},
                },
                "required": ["state_name"],
            },
        },
        "required": ["compose"],
    }
