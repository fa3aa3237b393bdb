"""What the consumer needs to know about one delivery: the key a redelivery shares,
whether a failure is about the message or about the database being away, and the
properties it carries into the dead-letter queue."""

from __future__ import annotations

import hashlib
from typing import Any

from pika.spec import BasicProperties

from ctsd.amqp import Delivery
from ctsd.auth.errors import AuthUnavailable
from ctsd.consumer.inputs import Refused
from ctsd.db.errors import is_outage as database_away


def is_outage(exc: BaseException) -> bool:
    """True for failures that say nothing about the message: the database, or the
    directory that says which groups a sender is in, is away."""
    return isinstance(exc, AuthUnavailable) or database_away(exc)


def message_key(delivery: Delivery) -> str:
    """The id a redelivery of this message has too: its message_id, else a digest."""
    message_id: str | None = delivery.properties.message_id
    if message_id and len(message_id) <= 255:
        return message_id
    digest = hashlib.sha256(delivery.routing_key.encode() + b"\n" + delivery.body)
    return digest.hexdigest()


def dead_letter_properties(delivery: Delivery, key: str, refusal: Refused
                           ) -> BasicProperties:
    """The original properties and headers plus why and whence. The sender's user_id
    moves to a header: RabbitMQ refuses a user_id other than the publisher's own."""
    original = delivery.properties
    headers: dict[str, Any] = dict(original.headers or {})
    headers.update({
        "x-cts-error": refusal.message[:4000],
        "x-cts-error-status": refusal.status,
        "x-cts-error-reason": refusal.reason,
        "x-cts-original-exchange": delivery.exchange,
        "x-cts-original-routing-key": delivery.routing_key,
    })
    if original.user_id:
        headers["x-cts-original-user-id"] = original.user_id
    return BasicProperties(
        content_type=original.content_type, content_encoding=original.content_encoding,
        message_id=key, correlation_id=original.correlation_id,
        timestamp=original.timestamp, type=original.type, app_id=original.app_id,
        delivery_mode=2, headers=headers,
    )
