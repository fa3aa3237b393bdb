"""Spans for the bus: one per relay publish, one per consumed message.

The relay's publish span is a child of the trace stored with the outbox row, and its
own context is what the message carries (body key `traceparent`, as the existing CTS
sends it, and the AMQP header of the same name), so the receiver's span is its child.
A consumed message continues the trace its AMQP `traceparent` header names, else the
one its body key `traceparent` names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from ctsd.observability import tracing
from ctsd.observability.service_metrics import record_publish_round

if TYPE_CHECKING:  # ctsd.relay imports this module: no import cycle at run time
    from ctsd.amqp import Delivery
    from ctsd.relay.wire import OutboxRow


@dataclass
class PublishRound:
    """The rows of one relay publish round, with the traceparent of their publish span
    (while tracing is on); `end` records the round's outcome in spans and metrics."""

    rows: list[OutboxRow]
    spans: dict[int, Span] = field(default_factory=dict)

    def end(self, published: Sequence[OutboxRow], results: Sequence[Any]) -> None:
        """Count the outcome; end every span: ok for confirmed rows, an error for the
        rest (`published` are the rows that were sent, `results` their results)."""
        record_publish_round(results, len(self.rows) - len(published))
        outcome = {row.id: result for row, result in zip(published, results, strict=True)}
        for row_id, span in self.spans.items():
            result = outcome.get(row_id, "not published: its body fails its schema")
            if isinstance(result, bool):
                span.set_attribute("messaging.cts.routed", result)
            else:
                span.set_status(Status(StatusCode.ERROR, str(result)))
            span.end()


def start_publish_round(rows: list[OutboxRow], exchange: str) -> PublishRound:
    """A producer span per row, child of the row's stored trace; the rows come back
    carrying their span's traceparent. With tracing off the rows pass unchanged (a
    traceparent stored by a traced writer still goes out)."""
    if not tracing.enabled():
        return PublishRound(rows)
    tracer = tracing.tracer()
    traced = PublishRound([])
    for row in rows:
        span = tracer.start_span(
            f"{row.topic} publish", context=tracing.context_from(row.traceparent),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "rabbitmq", "messaging.operation.type": "send",
                        "messaging.destination.name": exchange,
                        "messaging.rabbitmq.destination.routing_key": row.topic,
                        "messaging.message.id": row.message_id})
        traced.spans[row.id] = span
        traced.rows.append(replace(row, traceparent=tracing.traceparent_of(
            span.get_span_context())))
    return traced


def delivery_traceparent(delivery: Delivery) -> str | None:
    """The W3C traceparent a delivery carries: AMQP header first, else body key."""
    headers = delivery.properties.headers or {}
    value = headers.get("traceparent")
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and value:
        return value
    # Only bodies that mention it are parsed here; the consumer parses them anyway.
    if b'"traceparent"' not in delivery.body:
        return None
    try:
        body = json.loads(delivery.body)
    except ValueError:
        return None
    found = body.get("traceparent") if isinstance(body, dict) else None
    return found if isinstance(found, str) else None


@contextmanager
def consuming(batch: Sequence[Delivery], key_of: Callable[[Delivery], str]
              ) -> Iterator[None]:
    """Spans for applying a batch of deliveries (`key_of`: a delivery's message key, the
    id its command's events answer).

    Each delivery gets a consumer span, child of the trace it carries; the events its
    command writes store that span's traceparent. A single delivery's span is current
    (its statements nest under it); a batch runs under one span linked to them all.
    """
    if not tracing.enabled():
        yield
        return
    tracer = tracing.tracer()
    keys = [key_of(delivery) for delivery in batch]
    spans = [tracer.start_span(f"{delivery.routing_key} process",
                               context=tracing.context_from(delivery_traceparent(delivery)),
                               kind=SpanKind.CONSUMER,
                               attributes={"messaging.system": "rabbitmq",
                                           "messaging.operation.type": "process",
                                           "messaging.message.id": key})
             for delivery, key in zip(batch, keys, strict=True)]
    token = tracing.MESSAGE_TRACES.set(
        {key: tracing.traceparent_of(span.get_span_context()) or ""
         for key, span in zip(keys, spans, strict=True)})
    current = spans[0] if len(spans) == 1 else tracer.start_span(
        "consume batch", links=[Link(span.get_span_context()) for span in spans],
        attributes={"messaging.batch.message_count": len(spans)})
    try:
        with trace.use_span(current, end_on_exit=current is not spans[0]):
            yield
    finally:
        tracing.MESSAGE_TRACES.reset(token)
        for span in spans:
            span.end()
