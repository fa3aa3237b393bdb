"""AMQP 1.0 (the protocol of Red Hat's UMB): the relay publishes over it, alone or
beside AMQP 0-9-1, with TLS client certificates, and the broker's settlement as the
confirm. Against RabbitMQ's own AMQP 1.0 plugin on a node of the test's own, whose
address `/topic/<routing key>` publishes to amq.topic (UMB would use the default
`topic://VirtualTopic.eng.cts.{event}`); the test watches amq.topic over AMQP 0-9-1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pika
import pytest

from tests.conftest import compose_info
from tests.e2e.broker import BROKER_USER, DurableQueue, NodeOptions, PrivateBroker
from tests.e2e.bus import BusNames, Consumers, Publisher, dead_letters, queue_depth, write_config
from tests.e2e.conftest import ServerFactory, query
from tests.e2e.test_bus_resilience import eventually
from tests.e2e.tls_pki import CONSUMER_LOGIN, RELAY_LOGIN, Pki

pytestmark = pytest.mark.e2e

RABBITMQ_TOPIC_ADDRESS = "/topic/{topic}"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki.create()


@pytest.fixture(scope="module")
def broker(pki: Pki) -> Iterator[PrivateBroker]:
    node = PrivateBroker.start(NodeOptions(tls=pki.broker, plugins=["rabbitmq_amqp1_0"]))
    try:
        node.add_user(RELAY_LOGIN)
        node.add_user(CONSUMER_LOGIN)
        yield node
    finally:
        node.shutdown()


def amqp1_config(path: Path, url: str, pki: Pki, transports: list[str],
                 amqp_url: str = "") -> Path:
    path.write_text("\n".join([
        "[messaging]", f"transports = {json.dumps(transports)}",
        f"amqp_url = {json.dumps(amqp_url)}",
        "[messaging.amqp1]", f"url = {json.dumps(url)}",
        f"address = {json.dumps(RABBITMQ_TOPIC_ADDRESS)}",
        f"ca_cert = {json.dumps(str(pki.ca_cert))}",
        f"certfile = {json.dumps(str(pki.relay.certfile))}",
        f"keyfile = {json.dumps(str(pki.relay.keyfile))}", ""]))
    return path


async def import_one(http: aiohttp.ClientSession, base_url: str, short: str) -> None:
    async with http.post(f"{base_url}/api/1/composes/",
                         json={"compose_info": compose_info(short=short)}) as reply:
        assert reply.status == 200, await reply.text()


def outbox(database_url: str) -> list[tuple[str, str, bool]]:
    return [(row[0], row[1], row[2]) for row in query(
        database_url, "SELECT message_id, topic, sent_at IS NOT NULL FROM outbox ORDER BY id")]


@pytest.mark.parametrize("transports", [["amqp1"], ["amqp", "amqp1"]])
async def test_relay_publishes_over_amqp1_with_its_client_certificate(
        transports: list[str], broker: PrivateBroker, pki: Pki, start_ctsd: ServerFactory,
        e2e_database_url: str, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    names = BusNames.new()
    watch = DurableQueue(names.prefix, broker.url)
    try:
        amqp_url = broker.amqps_url if "amqp" in transports else ""
        config = amqp1_config(tmp_path / "ctsd.toml", broker.amqps_url, pki, transports,
                              amqp_url)
        if amqp_url:  # AMQP 0-9-1 with the same certificate, from [messaging.tls]
            with config.open("a") as handle:
                handle.write(f"[messaging.tls]\nca_cert = {json.dumps(str(pki.ca_cert))}\n"
                             f"certfile = {json.dumps(str(pki.relay.certfile))}\n"
                             f"keyfile = {json.dumps(str(pki.relay.keyfile))}\n")
        (server,) = start_ctsd(CTSD_DATABASE_URL=e2e_database_url, CTSD_CONFIG=str(config),
                               CTSD_TOPIC_PREFIX=names.prefix)
        for short in ("first", "second"):
            await import_one(http, server.base_url, f"amqp1{short}")
        copies = len(transports)
        received = await watch.wait_for(2 * copies)
    finally:
        watch.delete()
    rows = outbox(e2e_database_url)
    assert [sent for _, _, sent in rows] == [True, True]
    # Each row arrived once per transport, with its message id, topic and JSON body.
    assert sorted(m.message_id for m in received) == sorted(
        [message_id for message_id, _, _ in rows] * copies)
    assert {m.routing_key for m in received} == {f"{names.prefix}compose-created"}
    bodies = [json.loads(m.body) for m in received]
    assert all(body["event"] == "compose-created" for body in bodies)
    assert "connected to AMQP 1.0 broker amqps://127.0.0.1" in server.stderr()


def consumer_config(path: Path, names: BusNames, broker: PrivateBroker, pki: Pki) -> Path:
    # RabbitMQ 3.10 drops user_id when it hands an AMQP 0-9-1 message to AMQP 1.0, so
    # the requests name their sender in the topic (as standard publishers do).
    write_config(path, names, builders=[BROKER_USER],
                 consumer_lines=["sender_from_topic = true"])
    with path.open("a") as handle:
        handle.write("\n".join([
            "[messaging]", 'transports = ["amqp1"]', "[messaging.amqp1]",
            f"url = {json.dumps(broker.amqps_url)}",
            f'consume_from = "/queue/{names.queue}"',
            f'dead_letter_address = "/queue/{names.dead_letter_queue}"',
            f"ca_cert = {json.dumps(str(pki.ca_cert))}",
            f"certfile = {json.dumps(str(pki.consumer.certfile))}",
            f"keyfile = {json.dumps(str(pki.consumer.keyfile))}", ""]))
    return path


def declare_queues(amqp_url: str, names: BusNames) -> None:
    """On UMB the virtual-topic consumer queue exists by itself; here the test makes it."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for queue in (names.queue, names.dead_letter_queue):
        channel.queue_declare(queue, durable=True)
    channel.queue_bind(names.queue, "amq.topic", routing_key=f"{names.prefix}request.#")
    connection.close()


async def test_consumer_reads_an_amqp1_queue_with_dedup_and_dead_letters(
        broker: PrivateBroker, pki: Pki, pg_url: str, tmp_path: Path) -> None:
    names = BusNames.new()
    declare_queues(broker.url, names)
    consumers = Consumers(tmp_path, names, broker.url, CTSD_DATABASE_URL=pg_url,
                          CTSD_CONFIG=str(consumer_config(tmp_path / "ctsd.toml", names,
                                                          broker, pki)))
    publisher = Publisher(broker.url)
    try:
        consumer = consumers.start()
        body = {"compose_info": compose_info(short="viaamqp1")}
        by_guest = f".{BROKER_USER}"
        first = publisher.publish(names.request("import") + by_guest, body, user_id=None)
        publisher.publish(names.request("import") + by_guest, body, message_id=first,
                          user_id=None)  # a redelivery
        malformed = publisher.publish(names.request("tag") + by_guest, b'{"compose_id": ',
                                      user_id=None)
        last = publisher.publish(names.request("import") + by_guest,
                                 {"compose_info": compose_info(short="amqp1last")},
                                 user_id=None)

        def processed() -> set[str]:
            return {row[0] for row in query(pg_url, "SELECT message_id FROM "
                                            "processed_messages")}

        await eventually(lambda: last in processed(), "the last request")
        letters: list[Any] = []
        await eventually(lambda: letters.extend(dead_letters(broker.url, names)) or letters,
                         "the dead letter")
        await eventually(lambda: queue_depth(broker.url, names.queue) == 0, "an empty queue")
    finally:
        publisher.close()
        consumers.stop_all()
        names.delete_queues(broker.url)
    assert "consuming from /queue/" in consumer.output()
    assert query(pg_url, "SELECT count(*) FROM composes WHERE release_short = "
                 "'viaamqp1'")[0][0] == 1
    assert {first, last} <= processed()
    [(properties, raw)] = letters
    assert properties.message_id == malformed and raw == b'{"compose_id": '
    # The reason travels as AMQP 1.0 application properties, which RabbitMQ 3.10 hands
    # an AMQP 0-9-1 reader in their encoded form.
    encoded = properties.headers["x-amqp-1.0-app-properties"]
    assert b"x-cts-error-reason" in encoded and b"invalid json" in encoded
