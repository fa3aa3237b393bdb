"""The bus under trouble, with real processes: `ctsd serve` (whose relay publishes the
outbox) and `ctsd consume`, on a fresh PostgreSQL database and a real RabbitMQ.

- the broker stopped and started in the middle of a load of HTTP changes;
- `ctsd serve` killed with SIGKILL under load, and restarted;
- two `ctsd serve` processes relaying one database;
- `ctsd consume`: a repeated request, malformed and forbidden requests, SIGKILL
  mid-stream; Pungi and ODCS notifications end to end.

Each test uses its own topic prefix and queues (deleted afterwards). Only the outage
test stops a broker, and a private one (tests/e2e/broker.py): the machine's shared
broker stays up for everyone else. Every wait polls against a deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctsd.config import Settings
from handlers.commands import CreateTag, ImportCompose
from tests.conftest import compose_info
from tests.e2e.broker import BROKER_USER, DurableQueue, PrivateBroker
from tests.e2e.bus import BusNames, Consumers, Publisher, dead_letters, queue_depth, write_config
from tests.e2e.change_load import ChangeLoad, Targets, check_answers, check_messages
from tests.e2e.conftest import ServerFactory, applying_held, query
from tests.integration.consumer_harness import FEDORA_ELN, ORACLE_JAVA, fixture
from tests.integration.consumer_harness import compose_info as fixture_compose_info
from tests.relaying import ADMIN, AMQP_URL, BoundQueue, Received, command_bus

pytestmark = pytest.mark.e2e

TIMEOUT = 40.0
TRANSLATE = ("/mnt/redhat", "http://download.lab.bos.redhat.com")


async def eventually(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll `condition` until it is truthy (its value) or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def within(awaitable: Awaitable[Any], what: str, timeout: float = TIMEOUT) -> Any:
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def names() -> BusNames:
    return BusNames.new()


@pytest.fixture
def watch(names: BusNames) -> Iterator[BoundQueue]:
    """A queue on the shared broker receiving everything published under the prefix."""
    queue = BoundQueue(names.prefix)
    yield queue
    queue.close()


@pytest.fixture(scope="module")
def private_broker() -> Iterator[PrivateBroker]:
    broker = PrivateBroker.start()
    yield broker
    broker.shutdown()


def unsent(database_url: str) -> int:
    return query(database_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]


async def all_published(database_url: str, queue: BoundQueue) -> list[Received]:
    """Wait until the outbox is drained and each of its rows arrived at least once."""
    await eventually(lambda: unsent(database_url) == 0, "the outbox to drain")
    expected = {row[0] for row in query(database_url, "SELECT message_id FROM outbox")}

    def arrived() -> bool:
        queue.fetch()
        return expected <= {message.message_id for message in queue.received}

    await eventually(arrived, f"{len(expected)} messages")
    await asyncio.sleep(0.3)  # late duplicates too
    queue.fetch()
    return queue.received


def history_size(database_url: str) -> int:
    return query(database_url, "SELECT count(*) FROM compose_changes")[0][0]


# --- the relay in `ctsd serve` ---------------------------------------------------------

async def test_broker_stopped_under_load_loses_and_reorders_nothing(
        private_broker: PrivateBroker, start_ctsd: ServerFactory, e2e_database_url: str,
        http: aiohttp.ClientSession, names: BusNames) -> None:
    # Durable, so that it and the messages in it outlive the broker's restart.
    queue = DurableQueue(names.prefix, private_broker.url)
    try:
        (server,) = start_ctsd(CTSD_DATABASE_URL=e2e_database_url,
                               CTSD_AMQP_URL=private_broker.url, CTSD_TOPIC_PREFIX=names.prefix)
        # Paced, and going on until the broker has been back a while: changes are made
        # before, during and after the outage.
        load = ChangeLoad(http, Targets([server.base_url]), composes=8, rounds=None,
                          pause=0.05)
        await load.prepare()
        running = asyncio.ensure_future(load.run())
        try:
            await within(load.until_answered(80), "the load to get going")
            async with private_broker.stopped():
                down_at = len(load.answered)
                # Down until the relay has run into the outage and the service has gone
                # on committing changes without the broker.
                await eventually(lambda: "broker unavailable" in server.stderr()
                                 and len(load.answered) >= down_at + 80,
                                 "changes committed while the broker is down")
            await within(load.until_answered(len(load.answered) + 80),
                         "changes after the broker is back")
            load.finish()
            await within(running, "the load to finish")
        finally:
            running.cancel()
        received = await all_published(e2e_database_url, queue)
    finally:
        queue.delete()

    assert history_size(e2e_database_url) == len(load.answered) > 200
    check_messages(e2e_database_url, received)
    check_answers(e2e_database_url, load.answered, received)
    retried = query(e2e_database_url, "SELECT count(*) FROM outbox WHERE last_error IS NOT NULL")
    assert retried[0][0] > 0, "no publish failed: the outage missed the relay"


async def test_serve_killed_mid_load_loses_and_repeats_no_change(
        start_ctsd: ServerFactory, e2e_database_url: str, http: aiohttp.ClientSession,
        names: BusNames, watch: BoundQueue) -> None:
    env = {"CTSD_DATABASE_URL": e2e_database_url, "CTSD_AMQP_URL": AMQP_URL,
           "CTSD_TOPIC_PREFIX": names.prefix}
    (server,) = start_ctsd(**env)
    targets = Targets([server.base_url])
    # Unpaced: every worker has a request in flight when the server dies.
    load = ChangeLoad(http, targets, composes=8, rounds=20, retry=True)
    await load.prepare()
    running = asyncio.ensure_future(load.run())
    try:
        await within(load.until_answered(load.total // 3), "a third of the load")
        targets.down()
        server.process.kill()
        server.process.wait()
        killed_at = len(load.answered)
        (restarted,) = await asyncio.to_thread(start_ctsd, **env)
        targets.replace([restarted.base_url])
        await within(running, "the load to finish")
    finally:
        running.cancel()
    received = await all_published(e2e_database_url, watch)

    assert killed_at < load.total and load.retries > 0, "the kill missed the load"
    assert len(load.answered) == load.total
    # Each retried change was applied once: one compose per import (Idempotency-Key),
    # one history row per tag change (the rest are no-op repeats).
    per_release = query(e2e_database_url, "SELECT release_short, count(*) FROM composes "
                        "GROUP BY release_short")
    assert sorted(per_release) == sorted((load.release_of(n), 1) for n in range(load.composes))
    assert history_size(e2e_database_url) == load.total
    check_answers(e2e_database_url, load.answered, received)
    check_messages(e2e_database_url, received)  # duplicates of a re-sent row are allowed


async def test_two_relays_on_one_database_publish_each_row_once(
        start_ctsd: ServerFactory, e2e_database_url: str, http: aiohttp.ClientSession,
        names: BusNames, watch: BoundQueue) -> None:
    servers = start_ctsd(2, CTSD_DATABASE_URL=e2e_database_url, CTSD_AMQP_URL=AMQP_URL,
                         CTSD_TOPIC_PREFIX=names.prefix)
    load = ChangeLoad(http, Targets([server.base_url for server in servers]), composes=8,
                      rounds=15)
    await load.prepare()
    await within(load.run(), "the load")
    received = await all_published(e2e_database_url, watch)

    assert check_messages(e2e_database_url, received) == 0, "a row was published twice"
    check_answers(e2e_database_url, load.answered, received)
    for server in servers:
        assert "outbox relay connected" in server.stderr()


# --- `ctsd consume` --------------------------------------------------------------------

@pytest.fixture
async def consumers(tmp_path: Path, pg_url: str, names: BusNames) -> AsyncIterator[Consumers]:
    """`ctsd consume` on the shared broker; guest (the AMQP login) may import and set
    URLs but is no admin, and tags only where a tag lets it."""
    config = write_config(tmp_path / "ctsd.toml", names, translate_paths=[TRANSLATE],
                          builders=[BROKER_USER, "pungi", "odcs"])
    group = Consumers(tmp_path, names, AMQP_URL, CTSD_DATABASE_URL=pg_url,
                      CTSD_CONFIG=str(config))
    yield group
    group.stop_all()
    names.delete_queues(AMQP_URL)


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    sender = Publisher(AMQP_URL)
    yield sender
    sender.close()


def processed(database_url: str) -> set[str]:
    return {row[0] for row in query(database_url, "SELECT message_id FROM processed_messages")}


def replies_to(database_url: str, message_id: str) -> list[str]:
    return [row[0] for row in query(database_url, "SELECT topic FROM outbox WHERE "
                                    "in_reply_to = :id", id=message_id)]


async def test_request_delivered_twice_has_one_effect(
        consumers: Consumers, publisher: Publisher, pg_url: str, names: BusNames) -> None:
    consumers.start()
    # An import: repeating it would allocate a second compose, unlike a repeated tag.
    body = {"compose_info": compose_info(short="twice")}
    first = publisher.publish(names.request("import"), body)
    publisher.publish(names.request("import"), body, message_id=first)
    # Handled in queue order: once this one is in, both copies were handled.
    last = publisher.publish(names.request("import"), {"compose_info": compose_info(short="after")})
    await eventually(lambda: last in processed(pg_url), "the last request")

    assert query(pg_url, "SELECT count(*) FROM composes WHERE release_short = 'twice'")[0][0] == 1
    assert replies_to(pg_url, first) == [f"{names.prefix}compose-created"]
    assert dead_letters(AMQP_URL, names) == []


async def test_malformed_and_forbidden_requests_are_dead_lettered_and_consuming_goes_on(
        consumers: Consumers, publisher: Publisher, pg_url: str, names: BusNames) -> None:
    async with command_bus(Settings(database_url=pg_url, topic_prefix=names.prefix)) as bus:
        outcome = await bus.execute(ImportCompose(compose_info(short="refused")), ADMIN)
        await bus.execute(CreateTag("restricted", "nobody may tag", "https://docs"), ADMIN)
    compose_id = outcome.body["payload"]["compose"]["id"]
    consumer = consumers.start()
    malformed = publisher.publish(names.request("tag"), b'{"compose_id": ')
    forbidden = publisher.publish(names.request("tag"),
                                  {"compose_id": compose_id, "tag": "restricted"})
    good = publisher.publish(names.request("set_url"),
                             {"compose_id": compose_id, "compose_url": "https://example.com/c"})

    await eventually(lambda: good in processed(pg_url), "the request after the refused ones")
    letters: list[Any] = []
    await eventually(lambda: letters.extend(dead_letters(AMQP_URL, names)) or len(letters) >= 2,
                     "two dead letters")
    headers = {props.message_id: props.headers for props, _ in letters}
    assert set(headers) == {malformed, forbidden}
    assert (headers[malformed]["x-cts-error-status"],
            headers[malformed]["x-cts-error-reason"]) == (400, "invalid json")
    assert (headers[forbidden]["x-cts-error-status"],
            headers[forbidden]["x-cts-error-reason"]) == (403, "forbidden")
    assert headers[forbidden]["x-cts-original-user-id"] == BROKER_USER
    assert all(h["x-cts-error"] and h["x-cts-original-routing-key"] == names.request("tag")
               for h in headers.values())
    actions = query(pg_url, "SELECT action FROM compose_changes ORDER BY id")
    assert [row[0] for row in actions] == ["created", "url_changed"]
    assert consumer.process.poll() is None


async def test_consumer_killed_mid_stream_applies_every_request_once(
        consumers: Consumers, publisher: Publisher, pg_url: str, names: BusNames) -> None:
    count = 400
    consumer = consumers.start()
    # Imports of one release and date: order does not matter, a second effect would
    # show as an extra compose, and respins must come out 0..count-1 without a gap.
    body = {"compose_info": compose_info(short="stream")}
    with applying_held(pg_url):
        sent = [publisher.publish(names.request("import"), body) for _ in range(count)]
    await eventually(lambda: len(processed(pg_url)) >= count // 4, "a quarter of the stream")
    consumer.kill()
    killed_at = len(processed(pg_url))
    assert killed_at < count, "the kill came after the last request"
    consumers.start()
    await eventually(lambda: len(processed(pg_url)) >= count, "the whole stream")
    await eventually(lambda: queue_depth(AMQP_URL, names.queue) == 0, "an empty queue")

    assert processed(pg_url) == set(sent)
    respins = query(pg_url, "SELECT respin FROM composes WHERE release_short = 'stream'")
    assert sorted(row[0] for row in respins) == list(range(count))
    assert history_size(pg_url) == count
    replies = query(pg_url, "SELECT in_reply_to, count(*) FROM outbox GROUP BY in_reply_to")
    assert dict(replies) == dict.fromkeys(sent, 1)
    assert dead_letters(AMQP_URL, names) == []


async def test_pungi_and_odcs_notifications_change_the_compose_end_to_end(
        start_ctsd: ServerFactory, consumers: Consumers, publisher: Publisher, pg_url: str,
        http: aiohttp.ClientSession, names: BusNames, watch: BoundQueue, tmp_path: Path) -> None:
    # tests/integration/test_consumer.py covers each notification in detail through the
    # real broker; this runs them through both real processes and the relay.
    (server,) = start_ctsd(CTSD_DATABASE_URL=pg_url, CTSD_AMQP_URL=AMQP_URL,
                           CTSD_TOPIC_PREFIX=names.prefix)
    for compose_id in (ORACLE_JAVA, FEDORA_ELN):
        async with http.post(f"{server.base_url}/api/1/composes/",
                             json={"compose_info": fixture_compose_info(compose_id)}) as reply:
            assert reply.status == 200, await reply.text()
    consumers.start()
    sent = {}
    for name in ("pungi_status_started_umb.json", "pungi_status_finished_umb.json",
                 "odcs_state_changed_done_fedora.json", "odcs_state_changed_removed_fedora.json"):
        topic = names.pungi_topic if name.startswith("pungi") else names.odcs_topic
        sent[name] = publisher.publish(topic, fixture(name)["body"], user_id=None)

    async def compose(compose_id: str) -> dict[str, Any]:
        async with http.get(f"{server.base_url}/api/1/composes/{compose_id}") as reply:
            return await reply.json()

    await eventually(lambda: set(sent.values()) <= processed(pg_url), "the notifications")
    oracle, eln = await compose(ORACLE_JAVA), await compose(FEDORA_ELN)
    assert oracle["build_status"] == "FINISHED"
    assert oracle["compose_url"] == f"{TRANSLATE[1]}/nightly/{ORACLE_JAVA}"
    assert eln["compose_url"] == "https://odcs.fedoraproject.org/composes/odcs-28282"
    assert (eln["removed"], eln["removed_reason"]) == (True, "Compose is expired.")

    received = await all_published(pg_url, watch)
    answers = {m.properties.correlation_id: json.loads(m.body) for m in received
               if m.properties.correlation_id}
    assert answers[sent["pungi_status_finished_umb.json"]]["compose"]["build_status"] == (
        "FINISHED")
    assert answers[sent["odcs_state_changed_removed_fedora.json"]]["event"] == "compose-removed"
    assert set(answers) == set(sent.values())
    assert dead_letters(AMQP_URL, names) == []
