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

import aiohttp
import pytest

from tests.conftest import compose_info
from tests.e2e.broker import DurableQueue, NodeOptions, PrivateBroker
from tests.e2e.bus import BusNames
from tests.e2e.conftest import ServerFactory, query
from tests.e2e.tls_pki import RELAY_LOGIN, Pki

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
