"""From an outbox row to what goes on the wire, in fedora-messaging's format.

fedora-messaging's own `api.publish` blocks on a Twisted reactor and invents a fresh
message id per call, so the relay publishes with pika itself and builds the same
properties `fedora_messaging.message.Message._build_properties` would, except that the
message id is the outbox row's: it stays the same on every retry, which is what lets
consumers drop the duplicates a retry after a lost confirm produces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika
from fedora_messaging.message import Message

from schemas import SCHEMA_PACKAGE, message_class_for, schema_name
from schemas.validation import validate_message

# fedora-messaging mirrors the publish priority in a header; we publish without one.
DEFAULT_PRIORITY = 0

# fedora-messaging's filter headers: fedora_messaging_<kind>_<name> = true per item of the
# message property of that kind, so that brokers can route on them.
_FILTER_PROPERTIES = (("user", "usernames"), ("group", "groups"), ("rpm", "packages"),
                      ("container", "containers"), ("module", "modules"),
                      ("flatpak", "flatpaks"))


@dataclass(frozen=True)
class OutboxRow:
    """One unsent event as the relay read it from the outbox table."""

    id: int
    message_id: str
    topic: str
    body: dict[str, Any]
    ordering_key: str | None
    in_reply_to: str | None = None
    # W3C trace context to send with the message (ctsd.observability.bus_tracing).
    traceparent: str | None = None


@dataclass(frozen=True)
class Envelope:
    """A validated message ready for `basic_publish`."""

    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    message: Message


class InvalidMessage(ValueError):
    """The row's body does not match its schema; publishing it would break consumers."""


def envelope_for(row: OutboxRow, now: datetime | None = None) -> Envelope:
    """Build and validate the message for `row`; raises InvalidMessage if it is invalid."""
    cls = message_class_for(row.body.get("event") if isinstance(row.body, dict) else None)
    body = row.body
    if row.traceparent and isinstance(body, dict):
        # Where the existing CTS puts it (a body key), besides the AMQP header below.
        body = {**body, "traceparent": row.traceparent}
    properties = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,  # persistent: survives a broker restart in a durable queue
        message_id=row.message_id,
        # The request this event answers, for requesters waiting on the outcome.
        correlation_id=row.in_reply_to,
        headers={},
    )
    # The topic already carries our configurable prefix, so it is the routing key as is;
    # Message._encoded_routing_key would add fedora-messaging's global prefix instead.
    message = cls(body=body, topic=row.topic, properties=properties)
    properties.headers.update(_fedora_headers(message, cls, now or datetime.now(UTC)))
    if row.traceparent:
        properties.headers["traceparent"] = row.traceparent
    try:
        validate_message(message)
    except Exception as exc:  # jsonschema.ValidationError / SchemaError
        raise InvalidMessage(f"{row.topic} {row.message_id}: {exc}") from exc
    return Envelope(routing_key=row.topic, body=json.dumps(body).encode("utf-8"),
                    properties=properties, message=message)


def _fedora_headers(message: Message, cls: type[Message], now: datetime) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "fedora_messaging_schema": schema_name(cls),
        "fedora_messaging_schema_package": SCHEMA_PACKAGE if cls is not Message
        else "fedora_messaging",
        "fedora_messaging_severity": message.severity,
        "sent-at": now.astimezone(UTC).replace(microsecond=0).isoformat(),
        "priority": DEFAULT_PRIORITY,
    }
    for kind, prop in _FILTER_PROPERTIES:
        for item in getattr(message, prop):
            headers[f"fedora_messaging_{kind}_{item}"] = True
    return headers
