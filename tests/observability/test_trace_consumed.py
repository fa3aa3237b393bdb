"""A consumed message with a W3C traceparent (AMQP header, or the body key where the
existing CTS puts it) continues that trace: the consumer's span is its child, and the
change's outbox row and published message carry the same trace."""

from __future__ import annotations

import asyncio
from typing import Any

from ctsd.relay import run_relay
from tests.integration.consumer_harness import (
    BROKER_USER,
    FEDORA_ELN,
    ORACLE_JAVA,
    broker,
    compose_info,
    harness,
    seed,
)
from tests.observability.spans import new_traceparent, parent_id_of, span_id_of, spans, tree
from tests.relaying import BoundQueue, outbox_rows

__all__ = ["broker", "harness", "spans"]  # fixtures this module uses


def _consumer_span(exporter: Any, trace_id: str) -> Any:
    found = [s for s in exporter.get_finished_spans()
             if s.name.endswith(" process") and f"{s.context.trace_id:032x}" == trace_id]
    return found[0] if found else None


async def _continues(harness: Any, spans: Any, trace_id: str, caller_span: str) -> Any:
    span = await harness.until(lambda: _consumer_span(spans, trace_id), "the consumer span")
    assert parent_id_of(span) == caller_span
    print(tree(spans.get_finished_spans(), caller_span))
    return span


async def test_header_and_body_traceparent_continue_the_callers_trace(harness, spans):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA)
    watch = BoundQueue(harness.settings.topic_prefix)
    await harness.start()
    stop_relay = asyncio.Event()
    relay = asyncio.create_task(run_relay(harness.settings, stop_relay))
    try:
        # Pungi's notification, trace context in the AMQP headers.
        header_parent, header_trace, header_span = new_traceparent()
        message = {"status": "FINISHED", "compose_id": ORACLE_JAVA,
                   "location": f"/mnt/redhat/nightly/{ORACLE_JAVA}/compose"}
        harness.publish(harness.topic("pungi.compose.status.change"), message,
                        headers={"traceparent": header_parent})
        by_header = await _continues(harness, spans, header_trace, header_span)
        # A CTS request, trace context in the body.
        body_parent, body_trace, body_span = new_traceparent()
        harness.publish(harness.topic("request.import"),
                        {"compose_info": compose_info(FEDORA_ELN), "traceparent": body_parent},
                        user_id=BROKER_USER)
        by_body = await _continues(harness, spans, body_trace, body_span)
        # The seed's import, then these two changes (and the request message itself).
        received = await watch.wait_for(4)
    finally:
        stop_relay.set()
        await relay
        watch.close()
    published = [m for m in received if ".request." not in m.routing_key]
    rows = outbox_rows(url)
    assert rows[0].traceparent is None  # the seed ran untraced, outside any span
    assert rows[1].traceparent == f"00-{header_trace}-{span_id_of(by_header)}-01"
    assert rows[2].traceparent == f"00-{body_trace}-{span_id_of(by_body)}-01"
    # What the relay published continues the same two traces.
    # The seed's row had none: its publish span starts a trace of its own.
    traces = [m.properties.headers["traceparent"].split("-")[1] for m in published]
    assert traces[1:] == [header_trace, body_trace]
    assert traces[0] not in (header_trace, body_trace)


async def test_a_batch_keeps_each_messages_trace(harness, spans):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA, tag="qa")
    await harness.subscribe_then_stop()  # the two requests below then arrive as one batch
    parents = [new_traceparent() for _ in range(2)]
    for action, (traceparent, _trace, _span) in zip(("tag", "untag"), parents, strict=True):
        harness.publish(harness.topic(f"request.{action}"),
                        {"compose_id": ORACLE_JAVA, "tag": "qa"}, user_id=BROKER_USER,
                        headers={"traceparent": traceparent})
    await harness.start()
    await harness.until(lambda: len(outbox_rows(url)) == 3, "both changes")
    consumer_spans = [await harness.until(lambda t=trace_id: _consumer_span(spans, t),
                                          "the consumer span")
                      for _parent, trace_id, _span in parents]
    [batch] = [s for s in spans.get_finished_spans() if s.name == "consume batch"]
    assert {link.context.span_id for link in batch.links} == {
        s.context.span_id for s in consumer_spans}
    rows = outbox_rows(url)[1:]
    assert [row.traceparent for row in rows] == [
        f"00-{trace_id}-{span_id_of(span)}-01"
        for (_parent, trace_id, _span), span in zip(parents, consumer_spans, strict=True)]
