"""The relay resumes publishing within 2 s of the broker coming back (its reconnect
backoff is capped at 1 s plus up to 0.5 s of jitter), and `/health/ready` shows its
broker link meanwhile: down (an outage, so still ready), then up again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pika
import pika.exceptions
import pytest

from tests.conftest import compose_info
from tests.e2e.broker import DurableQueue, PrivateBroker
from tests.e2e.bus import BusNames
from tests.e2e.conftest import ServerFactory
from tests.e2e.test_bus_resilience import eventually

pytestmark = pytest.mark.e2e

RESUME_WITHIN = 2.0
OUTAGE_SECONDS = 8.0  # long enough for the backoff to reach its cap


@pytest.fixture(scope="module")
def broker() -> Iterator[PrivateBroker]:
    node = PrivateBroker.start()
    yield node
    node.shutdown()


async def first_accepted(url: str, timeout: float = 60.0) -> float:
    """When the broker first accepted an AMQP connection (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = await asyncio.to_thread(pika.BlockingConnection,
                                                 pika.URLParameters(url))
        except pika.exceptions.AMQPError:
            await asyncio.sleep(0.02)
            continue
        accepted = time.monotonic()
        await asyncio.to_thread(connection.close)
        return accepted
    pytest.fail("the broker did not come back")


async def ready(http: aiohttp.ClientSession, base_url: str) -> tuple[int, dict]:
    async with http.get(f"{base_url}/health/ready") as reply:
        return reply.status, await reply.json()


async def test_relay_publishes_again_within_two_seconds_of_the_broker_return(
        broker: PrivateBroker, start_ctsd: ServerFactory, e2e_database_url: str,
        http: aiohttp.ClientSession) -> None:
    names = BusNames.new()
    watch = DurableQueue(names.prefix, broker.url)
    try:
        (server,) = start_ctsd(CTSD_DATABASE_URL=e2e_database_url, CTSD_AMQP_URL=broker.url,
                               CTSD_TOPIC_PREFIX=names.prefix)

        async def change(short: str) -> None:
            async with http.post(f"{server.base_url}/api/1/composes/",
                                 json={"compose_info": compose_info(short=short)}) as reply:
                assert reply.status == 200, await reply.text()

        await change("before")
        await watch.wait_for(1)
        await asyncio.to_thread(broker.stop_app)
        try:
            await change("during")
            await asyncio.sleep(OUTAGE_SECONDS)
            status, body = await ready(http, server.base_url)
        finally:
            starting = asyncio.create_task(asyncio.to_thread(broker.start_app))
            back_at = await first_accepted(broker.url)
            await starting
            await asyncio.to_thread(broker.await_startup)

        def arrived() -> bool:
            watch.fetch()
            return len(watch.received) >= 2

        await eventually(arrived, "the change made during the outage")
        resumed_after = time.monotonic() - back_at
        _, after = await ready(http, server.base_url)
    finally:
        watch.delete()
    assert status == 200, "a broker outage must not make the service unready"
    link = body["broker"]["relay"]
    assert link["connected"] is False and link["credentials_refused"] is False
    assert link["error"]
    assert after["broker"]["relay"]["connected"] is True
    print(f"relay resumed {resumed_after:.2f} s after the broker came back")
    assert resumed_after < RESUME_WITHIN, f"published {resumed_after:.2f} s after the return"
