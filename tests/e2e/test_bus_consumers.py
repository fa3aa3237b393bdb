"""Several `ctsd consume` processes on one queue keep every compose's order: the queue
has a single active consumer (the broker delivers to one, in order, and hands over
when it goes), on a classic or a quorum queue ([consumer] queue_type). The active one
is killed mid-stream; the standby takes over within seconds, every request is applied
once, and each compose's history is in publish order.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ctsd.config import Settings
from handlers.commands import CreateTag, ImportCompose
from tests.conftest import compose_info
from tests.e2e.broker import BROKER_USER
from tests.e2e.bus import (
    BusNames,
    Consumers,
    Publisher,
    dead_letters,
    queue_depth,
    write_config,
)
from tests.e2e.conftest import applying_held, query
from tests.e2e.test_bus_resilience import eventually
from tests.relaying import ADMIN, AMQP_URL, command_bus

pytestmark = pytest.mark.e2e

COMPOSES = 8
PER_COMPOSE = 60
# A SIGKILLed consumer's socket closes at once, so the broker hands over at once; the
# rest is the standby's first batch.
MAX_HANDOVER_SECONDS = 5.0


async def seed(pg_url: str, names: BusNames) -> list[str]:
    async with command_bus(Settings(database_url=pg_url, topic_prefix=names.prefix)) as bus:
        await bus.execute(CreateTag("ordered", "order test", "https://docs"), ADMIN)
        outcomes = [await bus.execute(ImportCompose(compose_info(short=f"order{n}")), ADMIN)
                    for n in range(COMPOSES)]
    return [outcome.body["payload"]["compose"]["id"] for outcome in outcomes]


def publish_interleaved(names: BusNames, compose_ids: list[str]) -> list[str]:
    """Tag, untag, tag ... per compose, the composes interleaved; user_data numbers each
    compose's requests in publish order."""
    publisher = Publisher(AMQP_URL)
    sent = []
    for step in range(PER_COMPOSE):
        action = "tag" if step % 2 == 0 else "untag"
        for compose_id in compose_ids:
            sent.append(publisher.publish(names.request(action), {
                "compose_id": compose_id, "tag": "ordered", "user_data": str(step)}))
    publisher.close()
    return sent


def processed_count(pg_url: str) -> int:
    return query(pg_url, "SELECT count(*) FROM processed_messages")[0][0]


async def time_to_progress(pg_url: str, since: int) -> float:
    started = time.monotonic()
    await eventually(lambda: processed_count(pg_url) > since, "the standby to take over")
    return time.monotonic() - started


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
async def test_two_consumers_keep_each_composes_order_through_a_kill(
        queue_type: str, pg_url: str, tmp_path: Path) -> None:
    names = BusNames.new()
    compose_ids = await seed(pg_url, names)
    config = write_config(tmp_path / "ctsd.toml", names, admins=[BROKER_USER],
                          consumer_lines=[f'queue_type = "{queue_type}"', "batch_size = 10",
                                          "prefetch_count = 20"])
    consumers = Consumers(tmp_path, names, AMQP_URL, CTSD_DATABASE_URL=pg_url,
                          CTSD_CONFIG=str(config))
    try:
        active = consumers.start()
        standby = consumers.start()  # returns at once: the queue has a consumer already
        # A quorum queue counts only its active consumer; the standby says it subscribed.
        await eventually(lambda: "consuming from" in standby.output(), "the standby")
        with applying_held(pg_url):
            sent = publish_interleaved(names, compose_ids)
        total = len(sent)
        await eventually(lambda: processed_count(pg_url) >= total // 4, "a quarter applied")
        active.kill()
        killed_at = processed_count(pg_url)
        assert killed_at < total, "the kill came after the last request"
        handover = await time_to_progress(pg_url, killed_at)
        await eventually(lambda: processed_count(pg_url) >= total, "every request", 90)
        await eventually(lambda: queue_depth(AMQP_URL, names.queue) == 0, "an empty queue")
        await asyncio.sleep(0.3)
        assert dead_letters(AMQP_URL, names) == []
    finally:
        consumers.stop_all()
        names.delete_queues(AMQP_URL)
    assert handover < MAX_HANDOVER_SECONDS, f"no progress for {handover:.1f} s after the kill"
    assert {row[0] for row in query(pg_url, "SELECT message_id FROM processed_messages")} \
        == set(sent)
    rows = query(pg_url, "SELECT c.compose_id, h.user_data, h.action FROM compose_changes h "
                 "JOIN composes c ON c.pk = h.compose_pk WHERE h.user_data IS NOT NULL "
                 "ORDER BY h.id")
    for compose_id in compose_ids:
        steps = [int(user_data) for cid, user_data, _ in rows if cid == compose_id]
        assert steps == list(range(PER_COMPOSE)), f"{compose_id} applied out of order"
