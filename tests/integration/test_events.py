"""The event feed (`/api/1/events/`), its live stream, and outbox retention.

The commit-order tests open real concurrent transactions on PostgreSQL: a row that
commits late must never be skipped by a client that already read past its id.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import Connection, Engine

from ctsd.api.app import create_app
from ctsd.api.event_stream import EVENT_STREAMS
from ctsd.config import ConfigError, Settings, load_settings
from ctsd.db.engine import create_engine as create_async_engine
from ctsd.db.tables import idempotency_keys, outbox, processed_messages
from ctsd.outbox_retention import (
    RETENTION_LOCK,
    prune_periodically,
    prune_request_records,
    prune_sent_outbox,
)
from tests.conftest import create_tag, import_compose, read_database

TIMEOUT = 15.0


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    """A blocking engine on the test database, for writing rows behind the app's back."""
    engine = create_engine(Settings(database_url=database_url).sync_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(Settings(database_url=pg_url).sync_database_url)
    yield engine
    engine.dispose()


def insert_event(conn: Connection, name: str, **columns: Any) -> str:
    message_id = str(uuid.uuid4())
    values = {"message_id": message_id, "topic": f"cts.test-{name}", "body": {"event": name},
              "created_at": datetime.now(UTC), "attempts": 0, **columns}
    conn.execute(outbox.insert().values(**values))
    return message_id


async def feed(client: TestClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/1/events/", params=params)
    assert response.status == 200, await response.text()
    return await response.json()


def names(answer: dict[str, Any]) -> list[str]:
    return [event["body"]["event"] for event in answer["events"]]


async def feed_until(client: TestClient, after: str, count: int) -> dict[str, Any]:
    """Read from `after` until `count` events are served (rows may wait for commit order
    behind transactions of other databases on the same server)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        answer = await feed(client, after=after)
        if len(answer["events"]) >= count or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


# --- the catch-up feed -------------------------------------------------------------------


async def test_feed_serves_events_in_order_with_cursors_and_next(client):
    await create_tag(client, "qa")
    await import_compose(client)
    await client.patch("/api/1/composes/test-1.0-20200526.0",
                       json={"action": "tag", "tag": "qa"})

    answer = await feed_until(client, "0", 2)

    assert names(answer) == ["compose-created", "compose-tagged"]
    first, second = answer["events"]
    assert set(first) == {"cursor", "message_id", "topic", "body", "created_at",
                          "in_reply_to", "traceparent"}
    assert first["traceparent"] is None  # not traced (tests/observability: traced)
    assert first["topic"] == "cts.compose-created"
    assert first["body"]["compose"]["compose_info"]["payload"]["compose"]["id"] == (
        "test-1.0-20200526.0")
    assert first["created_at"].endswith("Z") and first["in_reply_to"] is None
    assert len({first["message_id"], second["message_id"]}) == 2
    assert first["cursor"] != second["cursor"]
    assert answer["next"] == second["cursor"]


async def test_paging_with_after_and_limit(client, db):
    with db.begin() as conn:
        for name in ("one", "two", "three"):
            insert_event(conn, name)

    assert names(await feed_until(client, "0", 3)) == ["one", "two", "three"]
    page = await feed(client, limit=2)
    assert names(page) == ["one", "two"]
    rest = await feed(client, after=page["next"], limit=2)
    assert names(rest) == ["three"]
    end = await feed(client, after=rest["next"])
    assert end == {"events": [], "next": rest["next"]}
    assert names(await feed(client, after="0", limit=1000)) == ["one", "two", "three"]
    assert (await feed(client, after=page["next"], limit=1))["next"] == rest["events"][0][
        "cursor"]


async def test_published_and_unpublished_events_are_both_served(client, db):
    with db.begin() as conn:
        insert_event(conn, "published", sent_at=datetime.now(UTC))
        insert_event(conn, "waiting")
    assert names(await feed_until(client, "0", 2)) == ["published", "waiting"]


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "1001"}, {"limit": "abc"}, {"limit": "-1"}, {"limit": "1.5"},
    {"limit": "\u00b2"}, {"limit": "99999999999999999999"}, {"after": "\u0661:\u0662"},
    {"after": "abc"}, {"after": "1:"}, {"after": ":1"}, {"after": "-1:2"}, {"after": "1:2:3"},
    {"after": "99999999999999999999:1"}, {"after": "1:9223372036854775808"},
])
async def test_bad_parameters_answer_400_in_json(client, params):
    response = await client.get("/api/1/events/", params=params)
    assert response.status == 400
    body = await response.json()
    assert body["status"] == 400 and body["message"]


# --- commit order (PostgreSQL: concurrent writers) ---------------------------------------


async def test_row_committed_late_with_a_lower_id_is_not_skipped(pg_client, pg_db):
    with pg_db.connect() as a, pg_db.connect() as b:
        a.begin()
        insert_event(a, "A")  # the lower id, still uncommitted
        b.begin()
        insert_event(b, "B")
        b.commit()
        ids = {row.body["event"]: row.id for row in b.execute(select(outbox))}
        assert ids == {"B": ids["B"]}

        for _ in range(5):  # B is committed, but A could still precede it
            assert (await feed(pg_client))["events"] == []
            await asyncio.sleep(0.2)

        a.commit()
    answer = await feed_until(pg_client, "0", 2)
    assert names(answer) == ["A", "B"]


async def test_older_transaction_writing_its_row_later_is_not_skipped(pg_client, pg_db):
    # The case a filter on the rows' own transaction ids gets wrong: the transaction that
    # began first writes the higher id and commits first.
    with pg_db.connect() as old, pg_db.connect() as young:
        old.begin()
        old.execute(text("SELECT pg_current_xact_id()"))  # takes the older transaction id
        young.begin()
        young.execute(text("SELECT pg_current_xact_id()"))
        insert_event(young, "young")  # the lower row id
        insert_event(old, "old")
        old.commit()

        seen = await feed_until(pg_client, "0", 1)
        assert names(seen) == ["old"]
        young.commit()
    rest = await feed_until(pg_client, seen["next"], 1)
    assert names(rest) == ["young"]


async def test_a_change_made_after_another_committed_comes_after_it(pg_client, pg_db):
    # A bus message records itself (taking a transaction id) before it waits for the
    # compose's lock; the change it then makes must still follow the one it waited for.
    with pg_db.connect() as waiting, pg_db.connect() as holder:
        waiting.begin()
        waiting.execute(text("SELECT pg_current_xact_id()"))
        holder.begin()
        insert_event(holder, "tagged")
        holder.commit()
        insert_event(waiting, "untagged")
        waiting.commit()
    assert names(await feed_until(pg_client, "0", 2)) == ["tagged", "untagged"]


# --- the live stream ------------------------------------------------------------------


async def read_frame(response: Any) -> dict[str, str]:
    raw = await asyncio.wait_for(response.content.readuntil(b"\n\n"), TIMEOUT)
    frame: dict[str, str] = {}
    for line in raw.decode().strip("\n").split("\n"):
        field, _, value = line.partition(":")
        frame[field or "comment"] = value.removeprefix(" ")
    return frame


async def test_stream_sends_events_as_they_happen(client):
    async with client.get("/api/1/events/stream") as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream"
        assert stream.headers["Cache-Control"] == "no-cache"
        assert await read_frame(stream) == {"retry": "3000"}

        await import_compose(client)
        frame = await read_frame(stream)

    assert set(frame) == {"id", "event", "data"}
    assert frame["event"] == "cts.compose-created"
    assert json.loads(frame["data"])["event"] == "compose-created"
    assert [e["cursor"] for e in (await feed(client))["events"]] == [frame["id"]]


async def test_streams_wake_on_the_outbox_notification(pg_client):
    # One LISTEN connection per process wakes every stream within milliseconds of a
    # commit; polling every second is only the fallback.
    async with pg_client.get("/api/1/events/stream") as stream:
        await read_frame(stream)
        ticket = pg_client.app[EVENT_STREAMS].ticket()
        await import_compose(pg_client)
        await asyncio.wait_for(ticket.wait(), TIMEOUT)
        assert (await read_frame(stream))["event"] == "cts.compose-created"


async def test_stream_resumes_after_last_event_id(client, db):
    with db.begin() as conn:
        for name in ("one", "two", "three"):
            insert_event(conn, name)
    first = (await feed_until(client, "0", 3))["events"][0]["cursor"]

    for headers, params in [({"Last-Event-ID": first}, {"after": "0"}), ({}, {"after": first})]:
        async with client.get("/api/1/events/stream", headers=headers, params=params) as stream:
            await read_frame(stream)  # retry
            frames = [await read_frame(stream), await read_frame(stream)]
        assert [json.loads(f["data"])["event"] for f in frames] == ["two", "three"]


async def test_stream_with_a_bad_cursor_answers_400(client):
    response = await client.get("/api/1/events/stream", headers={"Last-Event-ID": "nope"})
    assert response.status == 400
    assert (await response.json())["status"] == 400


async def test_idle_stream_sends_heartbeats(client):
    client.app[EVENT_STREAMS].heartbeat_interval = 0.3
    async with client.get("/api/1/events/stream") as stream:
        await read_frame(stream)
        assert await read_frame(stream) == {"comment": "keep-alive"}


async def test_stream_ends_when_the_client_goes_away(client):
    streams = client.app[EVENT_STREAMS]
    stream = await client.get("/api/1/events/stream")
    await read_frame(stream)
    assert streams.open_streams == 1
    stream.close()
    deadline = time.monotonic() + TIMEOUT
    while streams.open_streams and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert streams.open_streams == 0


async def test_shutdown_ends_open_streams_at_once(settings):
    server = TestServer(create_app(settings))
    await server.start_server()
    async with ClientSession(timeout=ClientTimeout(total=TIMEOUT)) as session:
        stream = await session.get(server.make_url("/api/1/events/stream"))
        await read_frame(stream)
        started = time.monotonic()
        await asyncio.wait_for(server.close(), 10)
        assert time.monotonic() - started < 5
        assert await stream.content.read() == b""  # ended, not cut


# --- retention --------------------------------------------------------------------------


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def seed_retention_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        for name in ("old-sent-1", "old-sent-2", "old-sent-3"):
            insert_event(conn, name, created_at=days_ago(30), sent_at=days_ago(20))
        insert_event(conn, "old-unsent", created_at=days_ago(30))
        insert_event(conn, "recent-sent", created_at=days_ago(20), sent_at=days_ago(1))


def remaining(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row.topic.removeprefix("cts.test-")
                for row in conn.execute(select(outbox.c.topic).order_by(outbox.c.id))]


async def test_retention_deletes_only_rows_published_long_ago(database_url, db):
    seed_retention_rows(db)
    engine = create_async_engine(Settings(database_url=database_url))
    try:
        deleted = await prune_sent_outbox(engine, timedelta(days=14), batch_size=2)
    finally:
        await engine.dispose()
    assert deleted == 3
    assert remaining(db) == ["old-unsent", "recent-sent"]


async def test_retention_leaves_the_work_to_the_server_holding_the_lock(pg_url, pg_db):
    seed_retention_rows(pg_db)
    engine = create_async_engine(Settings(database_url=pg_url))
    try:
        with pg_db.connect() as other:
            other.execute(text("SELECT pg_advisory_lock(:key)"), {"key": RETENTION_LOCK})
            assert await prune_sent_outbox(engine, timedelta(days=14)) == 0
            other.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RETENTION_LOCK})
        assert await prune_sent_outbox(engine, timedelta(days=14)) == 3
    finally:
        await engine.dispose()


async def test_periodic_pruning_runs_and_stops(database_url, db):
    seed_retention_rows(db)
    engine = create_async_engine(Settings(database_url=database_url))
    stop = asyncio.Event()
    task = asyncio.create_task(prune_periodically(engine, timedelta(days=14), stop,
                                                  first_delay=0, interval=3600))
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(remaining(db)) != 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)
    finally:
        await engine.dispose()
    assert remaining(db) == ["old-unsent", "recent-sent"]


def test_retention_days_is_configurable_and_checked(tmp_path):
    config = tmp_path / "ctsd.toml"
    config.write_text("[messaging]\noutbox_retention_days = 3\n")
    assert load_settings(config, environ={}).outbox_retention_days == 3
    assert Settings().outbox_retention_days == 14
    config.write_text("[messaging]\noutbox_retention_days = -1\n")
    with pytest.raises(ConfigError, match="outbox_retention_days"):
        load_settings(config, environ={})


async def test_published_rows_get_marked_and_stay_servable(client, db):
    # The relay marks rows sent; the feed keeps serving them until retention runs.
    await import_compose(client)
    with db.begin() as conn:
        conn.execute(update(outbox).values(sent_at=datetime.now(UTC)))
    assert names(await feed_until(client, "0", 1)) == ["compose-created"]


async def test_retention_forgets_old_retry_records_and_keeps_recent_ones(database_url):
    now = datetime.now(UTC)
    engine = create_async_engine(Settings(database_url=database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(processed_messages.insert(), [
                {"message_id": "old", "processed_at": now - timedelta(days=30)},
                {"message_id": "new", "processed_at": now - timedelta(days=1)},
            ])
            await conn.execute(idempotency_keys.insert(), [
                {"username": "u", "key": key, "request_hash": "h", "status": 200,
                 "response": "{}", "created_at": now - age}
                for key, age in (("old", timedelta(hours=30)), ("new", timedelta(hours=1)))
            ])
        removed = await prune_request_records(engine, timedelta(days=14), timedelta(hours=24),
                                              now=now)
    finally:
        await engine.dispose()
    assert removed == 2
    assert [r.message_id for r in read_database(database_url, select(processed_messages))] == [
        "new"]
    assert [r.key for r in read_database(database_url, select(idempotency_keys))] == ["new"]
