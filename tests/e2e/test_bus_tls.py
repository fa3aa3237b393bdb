"""The relay (`ctsd serve`) and `ctsd consume` on a broker that takes only TLS with
client certificates (SASL EXTERNAL: the certificate's common name is the login), as
Fedora's and UMB do; and a certificate the broker does not trust: refused, said so in
the log, and `/health/ready` not ready.

The node is the test's own (tests/e2e/broker.py) with an AMQPS listener and the
rabbitmq_auth_mechanism_ssl plugin; the test itself watches over its plain loopback
listener as guest.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import compose_info
from tests.e2e.broker import BROKER_USER, DurableQueue, NodeOptions, PrivateBroker
from tests.e2e.bus import BusNames, Consumers, Publisher, write_config
from tests.e2e.conftest import ServerFactory, query, server_environment, terminate
from tests.e2e.test_bus_resilience import eventually
from tests.e2e.tls_pki import CONSUMER_LOGIN, RELAY_LOGIN, ClientCertificate, Pki, messaging_table

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki.create()


@pytest.fixture(scope="module")
def tls_broker(pki: Pki) -> Iterator[PrivateBroker]:
    broker = PrivateBroker.start(NodeOptions(tls=pki.broker))
    try:
        for login in (RELAY_LOGIN, CONSUMER_LOGIN):
            broker.add_user(login)  # a random password nobody uses: EXTERNAL logs it in
        yield broker
    finally:
        broker.shutdown()


def tls_config(path: Path, names: BusNames, broker: PrivateBroker, pki: Pki,
               client: ClientCertificate) -> Path:
    write_config(path, names, builders=[BROKER_USER])
    with path.open("a") as handle:
        handle.write(messaging_table(broker.amqps_url, pki.ca_cert, client))
    return path


async def ready(http: aiohttp.ClientSession, base_url: str) -> tuple[int, dict]:
    async with http.get(f"{base_url}/health/ready") as reply:
        return reply.status, await reply.json()


async def test_relay_publishes_over_tls_with_its_client_certificate(
        tls_broker: PrivateBroker, pki: Pki, start_ctsd: ServerFactory, e2e_database_url: str,
        http: aiohttp.ClientSession, tmp_path: Path) -> None:
    names = BusNames.new()
    watch = DurableQueue(names.prefix, tls_broker.url)
    try:
        config = tls_config(tmp_path / "ctsd.toml", names, tls_broker, pki, pki.relay)
        (server,) = start_ctsd(CTSD_DATABASE_URL=e2e_database_url, CTSD_CONFIG=str(config),
                               CTSD_TOPIC_PREFIX=names.prefix)
        async with http.post(f"{server.base_url}/api/1/composes/",
                             json={"compose_info": compose_info(short="tls")}) as reply:
            assert reply.status == 200, await reply.text()
        [message] = await watch.wait_for(1)
        assert message.routing_key == f"{names.prefix}compose-created"
        status, body = await ready(http, server.base_url)
        relay = body["broker"]["relay"]
        assert status == 200 and relay["connected"] is True, body
        assert relay["url"] == tls_broker.amqps_url and not relay["credentials_refused"]
    finally:
        watch.delete()


async def test_consumer_reads_over_tls_with_its_client_certificate(
        tls_broker: PrivateBroker, pki: Pki, pg_url: str, tmp_path: Path) -> None:
    names = BusNames.new()
    config = tls_config(tmp_path / "ctsd.toml", names, tls_broker, pki, pki.consumer)
    consumers = Consumers(tmp_path, names, tls_broker.url, ctsd_amqp_url=tls_broker.amqps_url,
                          CTSD_DATABASE_URL=pg_url, CTSD_CONFIG=str(config))
    publisher = Publisher(tls_broker.url)
    try:
        consumer = consumers.start()
        sent = publisher.publish(names.request("import"),
                                 {"compose_info": compose_info(short="tlsconsumed")})

        def applied() -> bool:
            return bool(query(pg_url, "SELECT 1 FROM processed_messages WHERE message_id = :m",
                              m=sent))

        await eventually(applied, "the request to be applied")
        assert query(pg_url, "SELECT count(*) FROM composes WHERE release_short = "
                     "'tlsconsumed'")[0][0] == 1
        assert "consuming from" in consumer.output() and "amqps://127.0.0.1" in consumer.output()
    finally:
        publisher.close()
        consumers.stop_all()
        names.delete_queues(tls_broker.url)


async def test_untrusted_certificate_is_refused_logged_and_not_ready(
        tls_broker: PrivateBroker, pki: Pki, start_ctsd: ServerFactory, e2e_database_url: str,
        http: aiohttp.ClientSession, tmp_path: Path) -> None:
    names = BusNames.new()
    config = tls_config(tmp_path / "ctsd.toml", names, tls_broker, pki, pki.untrusted)
    (server,) = start_ctsd(CTSD_DATABASE_URL=e2e_database_url, CTSD_CONFIG=str(config),
                           CTSD_TOPIC_PREFIX=names.prefix)
    async with http.post(f"{server.base_url}/api/1/composes/",
                         json={"compose_info": compose_info(short="untrusted")}) as reply:
        assert reply.status == 200, await reply.text()  # accepted: it waits in the outbox

    async def refused() -> dict | None:
        status, body = await ready(http, server.base_url)
        return body if status == 503 else None

    deadline = time.monotonic() + 30
    while (body := await refused()) is None:
        assert time.monotonic() < deadline, "the relay's refusal never made it unready"
        await asyncio.sleep(0.2)
    relay = body["broker"]["relay"]
    assert relay["credentials_refused"] is True and relay["connected"] is False
    assert "UNKNOWN_CA" in relay["error"]
    assert "outbox relay: the broker connection was refused" in server.stderr()
    assert query(e2e_database_url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 1

    # The consumer says the same and keeps trying (it never subscribes).
    log_path = tmp_path / "consume.log"
    with log_path.open("wb") as log:
        consume = subprocess.Popen(
            [sys.executable, "-m", "ctsd.cli", "consume"], cwd=tmp_path, stdout=log,
            stderr=log, stdin=subprocess.DEVNULL, env=server_environment(
                CTSD_DATABASE_URL=e2e_database_url, CTSD_CONFIG=str(config),
                CTSD_TOPIC_PREFIX=names.prefix, CTSD_CONSUMER_QUEUE=names.queue))
    try:
        await eventually(lambda: "UNKNOWN_CA" in log_path.read_text(), "the consumer's refusal")
        assert consume.poll() is None, "a refused consumer keeps retrying"
    finally:
        terminate(consume)
    assert "broker refused the connection, check the certificates" in log_path.read_text()
