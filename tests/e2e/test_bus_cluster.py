"""The bus as it runs in production, on a 3-node RabbitMQ cluster of the test's own:
two `ctsd serve` (relays) and two `ctsd consume` (a quorum queue with a single active
consumer), every process given all three node URLs. Under HTTP and bus load, one
broker node is SIGKILLed, then the consumer that took over. Proved afterwards:
- every committed change was published (duplicates only with the same message id),
  each compose's messages in the order of its history (check_messages);
- every HTTP change answered 200 is in the history once (check_answers);
- every bus request was applied exactly once, each compose's in publish order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import compose_info
from tests.e2e.broker import BROKER_USER, DurableQueue
from tests.e2e.bus import BusNames, Consumers, Publisher, dead_letters, write_config
from tests.e2e.change_load import ChangeLoad, Targets, check_answers, check_messages
from tests.e2e.cluster import PrivateCluster
from tests.e2e.conftest import ServerFactory, query
from tests.e2e.test_bus_resilience import all_published, eventually, within

pytestmark = pytest.mark.e2e

BUS_COMPOSES = 6
BUS_STEPS = 120  # requests per compose, tag and untag in turn
PACE = 0.05  # seconds between rounds: the bus load lasts about 6 s
QUORUM = {"x-queue-type": "quorum"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    nodes = PrivateCluster.start(3)
    yield nodes
    nodes.shutdown()


class BusLoad:
    """Tag/untag requests on `compose_ids`, paced, from a thread (pika is blocking)."""

    def __init__(self, amqp_url: str, names: BusNames, compose_ids: list[str]) -> None:
        self.sent: list[str] = []
        self._args = (amqp_url, names, compose_ids)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def done(self) -> None:
        await asyncio.to_thread(self._thread.join, 120)

    def _run(self) -> None:
        amqp_url, names, compose_ids = self._args
        publisher = Publisher(amqp_url)
        for step in range(BUS_STEPS):
            action = "tag" if step % 2 == 0 else "untag"
            for compose_id in compose_ids:
                self.sent.append(publisher.publish(names.request(action), {
                    "compose_id": compose_id, "tag": "ordered", "user_data": str(step)}))
            time.sleep(PACE)
        publisher.close()


def processed(pg_url: str) -> set[str]:
    return {row[0] for row in query(pg_url, "SELECT message_id FROM processed_messages")}


async def seed(http: aiohttp.ClientSession, base_url: str) -> list[str]:
    async with http.post(f"{base_url}/api/1/tags/", json={
            "name": "ordered", "description": "x", "documentation": "https://docs"}) as reply:
        assert reply.status == 200, await reply.text()
    compose_ids = []
    for n in range(BUS_COMPOSES):
        async with http.post(f"{base_url}/api/1/composes/", json={
                "compose_info": compose_info(short=f"clusterbus{n}")}) as reply:
            compose_ids.append((await reply.json())["payload"]["compose"]["id"])
    return compose_ids


def start_consumers(tmp_path: Path, names: BusNames, cluster: PrivateCluster, pg_url: str
                    ) -> list[Consumers]:
    config = write_config(tmp_path / "ctsd.toml", names, admins=[BROKER_USER],
                          consumer_lines=['queue_type = "quorum"', "batch_size = 20",
                                          "prefetch_count = 40"])
    watcher_url = cluster.nodes[2].url
    groups = [Consumers(tmp_path / f"group-{n}", names, watcher_url,
                        ctsd_amqp_url=cluster.urls(first=n), CTSD_DATABASE_URL=pg_url,
                        CTSD_CONFIG=str(config)) for n in (0, 1)]
    for group in groups:
        group.start()
    return groups


async def test_cluster_node_and_consumer_killed_under_load(
        cluster: PrivateCluster, start_ctsd: ServerFactory, e2e_database_url: str,
        http: aiohttp.ClientSession, tmp_path: Path) -> None:
    names, db = BusNames.new(), e2e_database_url
    first, second, third = cluster.nodes
    watch = DurableQueue(names.prefix, third.url, arguments=QUORUM)
    servers = start_ctsd(2, CTSD_DATABASE_URL=db, CTSD_AMQP_URL=cluster.urls(),
                         CTSD_TOPIC_PREFIX=names.prefix)
    groups = start_consumers(tmp_path, names, cluster, db)
    [active], [standby] = groups[0].started, groups[1].started
    try:
        await eventually(lambda: "consuming from" in standby.output(), "the standby")
        compose_ids = await seed(http, servers[0].base_url)
        load = ChangeLoad(http, Targets([s.base_url for s in servers]), composes=6,
                          rounds=None, pause=0.02)
        await load.prepare()
        running = asyncio.ensure_future(load.run())
        bus = BusLoad(third.url, names, compose_ids)
        bus.start()
        try:
            await eventually(lambda: len(bus.sent) >= len(compose_ids) * BUS_STEPS // 4,
                             "a quarter of the bus load")
            await asyncio.to_thread(first.kill)  # the node every relay and `active` use
            before = len(processed(db))
            await eventually(lambda: len(processed(db)) > before + 20, "the standby at work")
            standby.kill()  # now the active one: `active` (on another node) takes over
            killed_at = len(processed(db))
            await bus.done()
            await within(load.until_answered(len(load.answered) + 40), "HTTP after the kills")
            load.finish()
            await within(running, "the HTTP load to finish", 60)
        finally:
            running.cancel()
        sent = bus.sent
        await eventually(lambda: set(sent) <= processed(db), "every bus request", 90)
        # The watch queue takes the bus requests too (same prefix): only CTS's own count.
        received = [message for message in await all_published(db, watch)
                    if not message.routing_key.startswith(names.request(""))]
        letters = dead_letters(third.url, names)
    finally:
        for group in groups:
            group.stop_all()
        watch.delete()
    assert len(sent) == BUS_COMPOSES * BUS_STEPS and killed_at < len(sent)
    assert letters == []
    duplicates = check_messages(db, received)
    check_answers(db, load.answered, received)
    rows = query(db, "SELECT c.compose_id, h.user_data FROM compose_changes h JOIN composes c "
                 "ON c.pk = h.compose_pk WHERE h.user_data IS NOT NULL ORDER BY h.id")
    for compose_id in compose_ids:
        steps = [int(data) for cid, data in rows if cid == compose_id]
        assert steps == list(range(BUS_STEPS)), f"{compose_id}: bus requests out of order"
    moved = [f"outbox relay connected to amqp://127.0.0.1:{node.port}" for node in
             (second, third)]
    assert all(any(line in s.stderr() for line in moved) for s in servers), \
        "a relay never moved to another node"
    assert "consuming from" in active.output().split("broker:", 1)[-1]
    print(f"{len(received)} messages received, {duplicates} duplicates (same id), "
          f"{len(sent)} bus requests, {len(load.answered)} HTTP changes")
