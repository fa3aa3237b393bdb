"""The outbox relay against the real RabbitMQ and the real databases.

Each test binds its own exclusive queue to `<unique prefix>#` on the exchange and gives
CTS that unique topic prefix, so parallel runs never see each other's messages.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
from fedora_messaging import message as fm_message
from sqlalchemy import create_engine

from ctsd.api.app import create_app
from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.db.engine import create_engine as create_async_engine
from ctsd.db.tables import outbox
from ctsd.relay import relay_cleanup_ctx, run_relay
from ctsd.relay.amqp import AmqpPublisher, BrokerError
from ctsd.relay.runner import OutboxRelay
from ctsd.relay.store import OutboxStore
from ctsd.relay.wakeup import OutboxWakeup
from ctsd.relay.wire import OutboxRow, envelope_for
from ctsd.service import CommandBus
from handlers.commands import CreateTag, ImportCompose, SetComposeUrl, TagCompose, UntagCompose
from tests.conftest import compose_info, import_compose
from tests.examples import published_example as example
from tests.relaying import ADMIN, AMQP_URL, BoundQueue, Received, command_bus, outbox_rows

CLOSED_PORT_URL = "amqp://guest:guest@127.0.0.1:1/%2F"
TIMEOUT = 30.0


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}.cts."


@pytest.fixture
def queue(prefix: str) -> Iterator[BoundQueue]:
    test_queue = BoundQueue(prefix)
    yield test_queue
    test_queue.close()


def relay_settings(url: str, prefix: str, amqp_url: str = AMQP_URL) -> Settings:
    return Settings(database_url=url, topic_prefix=prefix, amqp_url=amqp_url)


async def write_history(bus: CommandBus, composes: int = 3, rounds: int = 2) -> None:
    """Interleaved changes to several composes: created, then tag/set_url/untag rounds."""
    await bus.execute(CreateTag("nightly", "nightly composes", "https://docs"), ADMIN)
    ids = []
    for n in range(composes):
        outcome = await bus.execute(ImportCompose(compose_info(date=f"202001{n + 10}")), ADMIN)
        ids.append(outcome.body["payload"]["compose"]["id"])
    for r in range(rounds):
        for compose_id in ids:
            await bus.execute(TagCompose(compose_id, "nightly", f"round {r}"), ADMIN)
            await bus.execute(SetComposeUrl(compose_id, f"https://composes.example/{r}"), ADMIN)
            await bus.execute(UntagCompose(compose_id, "nightly"), ADMIN)


@asynccontextmanager
async def relay_running(settings: Settings, **kwargs: Any) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_relay(settings, stop, **kwargs))
    try:
        yield task
    finally:
        stop.set()
        # Stopping must be prompt even in the middle of a broker backoff.
        await asyncio.wait_for(task, timeout=10)


async def until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def assert_delivered_exactly_once_in_order(rows: list[Any], received: list[Received]) -> None:
    ids = [message.message_id for message in received]
    assert len(ids) == len(set(ids)), "a message was published twice"
    assert sorted(ids) == sorted(row.message_id for row in rows)
    by_id = {row.message_id: row for row in rows}
    per_compose: dict[str, list[int]] = defaultdict(list)
    for message in received:
        row = by_id[message.message_id]
        per_compose[row.ordering_key].append(row.id)
        assert message.routing_key == row.topic
        assert message.properties.delivery_mode == 2
        parsed = fm_message.get_message(message.routing_key, message.properties, message.body)
        assert parsed.body == row.body  # get_message also validated it against its schema
        assert type(parsed).__name__ != "Message"
    for key, row_ids in per_compose.items():
        assert row_ids == sorted(row_ids), f"messages of {key} arrived out of order"


async def test_relay_publishes_each_row_once_in_order(database_url, prefix, queue):
    settings = relay_settings(database_url, prefix)
    async with command_bus(settings) as bus:
        await write_history(bus)
    rows = outbox_rows(database_url)
    assert len(rows) == 3 * (1 + 2 * 3)

    async with relay_running(settings, batch_size=4):
        received = await queue.wait_for(len(rows))
        await until(lambda: all(row.sent_at for row in outbox_rows(database_url)))

    # Order is kept per compose; rows of different composes share publish rounds.
    assert_delivered_exactly_once_in_order(rows, received)
    assert all(row.attempts == 1 and row.last_error is None for row in outbox_rows(database_url))


async def test_notify_wakes_the_relay_at_once(pg_url, prefix, queue):
    settings = relay_settings(pg_url, prefix)
    # With a 60 s poll, only the NOTIFY can explain a delivery within seconds.
    async with relay_running(settings, poll_interval=60), command_bus(settings) as bus:
        await asyncio.sleep(0.5)  # let the relay drain the (empty) outbox and LISTEN
        started = time.monotonic()
        await bus.execute(ImportCompose(compose_info()), ADMIN)
        received = await queue.wait_for(1, timeout=10)
        assert time.monotonic() - started < 5
    assert [m.message_id for m in received] == [outbox_rows(pg_url)[0].message_id]


async def test_two_relays_publish_each_row_once(database_url, prefix, queue):
    settings = relay_settings(database_url, prefix)
    async with command_bus(settings) as bus:
        await write_history(bus, composes=5, rounds=2)
        # Small batches make the two relays interleave, and writing goes on meanwhile.
        async with relay_running(settings, batch_size=2, poll_interval=0.05), \
                relay_running(settings, batch_size=2, poll_interval=0.05):
            for n in range(3):
                outcome = await bus.execute(ImportCompose(compose_info(short="late")), ADMIN)
                compose_id = outcome.body["payload"]["compose"]["id"]
                await bus.execute(TagCompose(compose_id, "nightly", f"late {n}"), ADMIN)
            rows = outbox_rows(database_url)
            received = await queue.wait_for(len(rows))
            await until(lambda: all(row.sent_at for row in outbox_rows(database_url)))
    assert_delivered_exactly_once_in_order(rows, received)


async def test_row_waits_while_an_older_row_of_its_compose_is_held(pg_url, prefix, queue):
    settings = relay_settings(pg_url, prefix)
    async with command_bus(settings) as bus:
        await bus.execute(CreateTag("nightly", "nightly composes", "https://docs"), ADMIN)
        first = await bus.execute(ImportCompose(compose_info(date="20200101")), ADMIN)
        await bus.execute(ImportCompose(compose_info(date="20200102")), ADMIN)
        compose_id = first.body["payload"]["compose"]["id"]
        await bus.execute(TagCompose(compose_id, "nightly"), ADMIN)
    held, other, later = outbox_rows(pg_url)
    assert held.ordering_key == later.ordering_key != other.ordering_key

    # Another relay is publishing the oldest row of the compose right now.
    other_relay = psycopg2.connect(pg_url)
    try:
        with other_relay.cursor() as cur:
            cur.execute("SELECT id FROM outbox WHERE id = %s FOR UPDATE", (held.id,))
        async with single_relay(settings) as relay:
            assert await relay.drain() == 1
            assert [m.message_id for m in await queue.wait_for(1)] == [other.message_id]
            other_relay.rollback()  # it failed: the row is unsent and free again
            assert await relay.drain() == 2
    finally:
        other_relay.close()
    received = await queue.wait_for(3)
    assert [m.message_id for m in received] == [other.message_id, held.message_id,
                                                later.message_id]


@asynccontextmanager
async def single_relay(settings: Settings) -> AsyncIterator[OutboxRelay]:
    engine = create_async_engine(settings)
    publisher = AmqpPublisher(settings.amqp_url, settings.publish_exchange)
    wakeup = OutboxWakeup(settings.database_url, poll_interval=1.0)
    try:
        yield OutboxRelay(OutboxStore(engine), publisher, wakeup)
    finally:
        await publisher.close()
        await engine.dispose()


async def test_unreachable_broker_keeps_rows_then_sends_them_in_order(pg_url, prefix, queue):
    async with command_bus(relay_settings(pg_url, prefix)) as bus:
        await write_history(bus, composes=2, rounds=1)
    rows = outbox_rows(pg_url)

    async with relay_running(relay_settings(pg_url, prefix, CLOSED_PORT_URL)):
        await until(lambda: (outbox_rows(pg_url)[0].attempts or 0) >= 2)
    after_outage = outbox_rows(pg_url)
    assert all(row.sent_at is None for row in after_outage)
    assert after_outage[0].last_error
    assert await queue.wait_for(0, timeout=0) == []

    async with relay_running(relay_settings(pg_url, prefix)):
        received = await queue.wait_for(len(rows))
        await until(lambda: all(row.sent_at for row in outbox_rows(pg_url)))
    assert_delivered_exactly_once_in_order(rows, received)


async def test_without_amqp_url_events_stay_in_the_outbox(tmp_path, prefix):
    url = f"sqlite:///{tmp_path / 'cts.sqlite'}"
    migrate.upgrade(Settings(database_url=url))
    settings = relay_settings(url, prefix, amqp_url="")
    async with command_bus(settings) as bus:
        await bus.execute(ImportCompose(compose_info()), ADMIN)
    await asyncio.wait_for(run_relay(settings, asyncio.Event()), timeout=5)
    assert [row.sent_at for row in outbox_rows(url)] == [None]


async def test_relay_runs_inside_the_http_server(aiohttp_client, pg_url, prefix, queue):
    settings = relay_settings(pg_url, prefix)
    app = create_app(settings)
    app.cleanup_ctx.append(relay_cleanup_ctx(settings))
    client = await aiohttp_client(app)
    await import_compose(client)
    received = await queue.wait_for(1)
    assert [m.message_id for m in received] == [outbox_rows(pg_url)[0].message_id]
    await client.close()  # the relay stops with the app



def insert_rows(url: str, prefix: str, bodies: list[tuple[str, dict[str, Any]]]) -> None:
    engine = create_engine(Settings(database_url=url).sync_database_url)
    try:
        with engine.begin() as conn:
            for key, body in bodies:
                conn.execute(outbox.insert().values(
                    message_id=str(uuid.uuid4()), topic=f"{prefix}{body.get('event')}",
                    body=body, ordering_key=key, created_at=datetime.now(UTC), attempts=0))
    finally:
        engine.dispose()


async def test_invalid_row_is_kept_and_holds_back_only_its_compose(database_url, prefix, queue):
    good = example("compose-tagged")
    insert_rows(database_url, prefix, [("K", {"event": "compose-tagged", "agent": "x"}),
                                       ("L", good), ("K", good), ("L", good)])
    async with relay_running(relay_settings(database_url, prefix), batch_size=2):
        received = await queue.wait_for(2)
        await until(lambda: outbox_rows(database_url)[3].sent_at is not None)
    bad, first_l, later_k, second_l = outbox_rows(database_url)
    assert [m.message_id for m in received] == [first_l.message_id, second_l.message_id]
    assert bad.sent_at is None and "invalid message" in bad.last_error
    assert later_k.sent_at is None and later_k.last_error is None


async def test_a_pipelined_batch_tells_routed_from_unrouted_messages(prefix, queue):
    # One batch, confirms awaited together: the unroutable one in the middle is known by
    # its returned message id, and the others are routed and arrive in publish order.
    topics = [f"{prefix}compose-tagged", f"nobody{uuid.uuid4().hex}.compose-tagged",
              f"{prefix}compose-untagged"]
    rows = [OutboxRow(id=n, message_id=str(uuid.uuid4()), topic=topic,
                      body=example(topic.rsplit(".", 1)[1]), ordering_key=None)
            for n, topic in enumerate(topics, start=1)]
    publisher = AmqpPublisher(AMQP_URL, "amq.topic")
    try:
        results = await publisher.publish_batch([envelope_for(row) for row in rows])
    finally:
        await publisher.close()
    assert results == [True, False, True]
    received = await queue.wait_for(2)
    assert [m.message_id for m in received] == [rows[0].message_id, rows[2].message_id]


async def test_a_batch_to_an_unreachable_broker_fails_every_message():
    rows = [OutboxRow(id=1, message_id=str(uuid.uuid4()), topic="t.compose-tagged",
                      body=example("compose-tagged"), ordering_key="A")]
    publisher = AmqpPublisher(CLOSED_PORT_URL, "amq.topic")
    try:
        [result] = await publisher.publish_batch([envelope_for(row) for row in rows])
    finally:
        await publisher.close()
    assert isinstance(result, BrokerError)
