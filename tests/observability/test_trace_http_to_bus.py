"""One trace from an HTTP caller through CTS (request, statements, relay publish) to
the message on the real RabbitMQ, and from a consumed message into CTS."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from ctsd.api.app import create_app
from ctsd.config import Settings
from ctsd.db import migrate
from tests.conftest import compose_info
from tests.observability.spans import (
    new_traceparent,
    parent_id_of,
    span_id_of,
    spans,
    trace_id_of,
    tree,
)
from tests.relaying import AMQP_URL, BoundQueue, outbox_rows

__all__ = ["spans"]  # fixtures this module uses


async def _spans_until(exporter: Any, condition: Any, timeout: float = 15.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = list(exporter.get_finished_spans())
        if condition(finished):
            return finished
        await asyncio.sleep(0.05)
    raise AssertionError(f"spans never matched; got {[s.name for s in finished]}")


def _traceparent_trace_id(value: str) -> str:
    version, trace_id, _span, _flags = value.split("-")
    assert version == "00"
    return trace_id


async def test_http_import_is_one_trace_to_the_published_message(aiohttp_client, pg_url,
                                                                 spans):
    prefix = f"t{uuid.uuid4().hex[:10]}.cts."
    queue = BoundQueue(prefix)
    settings = Settings(database_url=pg_url, amqp_url=AMQP_URL, topic_prefix=prefix)
    client = await aiohttp_client(create_app(settings))
    traceparent, trace_id, caller_span = new_traceparent()
    try:
        response = await client.post("/api/1/composes/", json={"compose_info": compose_info()},
                                     headers={"traceparent": traceparent})
        assert response.status == 200, await response.text()
        [message] = await queue.wait_for(1)
    finally:
        queue.close()
    finished = await _spans_until(spans, lambda got: any(
        s.name.endswith("publish") for s in got))
    print(tree(finished, caller_span))
    in_trace = [s for s in finished if trace_id_of(s) == trace_id]
    [server] = [s for s in in_trace if s.name == "POST /api/1/composes/"]
    assert parent_id_of(server) == caller_span
    statements = [s for s in in_trace if (s.attributes and "db.statement" in s.attributes)
                  or (s.attributes or {}).get("db.query.text")]
    # The respin allocation is one of them: a statement of its own, or the commit
    # statement itself for a predicted respin (ctsd.db.predicted_imports).
    texts = [str((s.attributes or {}).get("db.statement")
                 or (s.attributes or {}).get("db.query.text")) for s in statements]
    assert any("respin_counters" in text for text in texts), texts
    ids = {span_id_of(s): s for s in in_trace}

    def under_server(span: Any) -> bool:
        while span is not None and span is not server:
            span = ids.get(parent_id_of(span) or "")
        return span is server

    assert all(under_server(s) for s in statements)
    # The relay's claim queries (outside any span) start no one-statement traces.
    assert [s.name for s in finished if s.parent is None] == [], tree(finished, None)
    [publish] = [s for s in in_trace if s.name == f"{prefix}compose-created publish"]
    assert parent_id_of(publish) == span_id_of(server)
    # The message carries the publish span's context, header and body key alike.
    header = message.properties.headers["traceparent"]
    body = json.loads(message.body)
    assert header == body["traceparent"]
    assert _traceparent_trace_id(header) == trace_id
    assert header.split("-")[2] == span_id_of(publish)
    # The outbox row keeps the context the change was written with.
    [row] = outbox_rows(pg_url)
    assert row.traceparent == f"00-{trace_id}-{span_id_of(server)}-01"


async def test_the_event_feed_shows_the_changes_traceparent(aiohttp_client, tmp_path, spans):
    # SQLite: its feed goes by id. (On PostgreSQL an event is served once every older
    # transaction of the whole cluster has ended, which other test runs can delay.)
    url = f"sqlite:///{tmp_path / 'cts.sqlite'}"
    migrate.upgrade(Settings(database_url=url))
    client = await aiohttp_client(create_app(Settings(database_url=url)))
    traceparent, trace_id, _caller = new_traceparent()
    response = await client.post("/api/1/composes/", json={"compose_info": compose_info()},
                                 headers={"traceparent": traceparent})
    assert response.status == 200
    [event] = (await (await client.get("/api/1/events/")).json())["events"]
    [server] = [s for s in spans.get_finished_spans() if s.name == "POST /api/1/composes/"]
    assert event["traceparent"] == f"00-{trace_id}-{span_id_of(server)}-01"

