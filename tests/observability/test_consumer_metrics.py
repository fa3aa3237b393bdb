"""The consumer's lag and dead letters on /api/1/metrics/, read from the real broker."""

from __future__ import annotations

import asyncio

from ctsd.api.app import create_app
from tests.integration.consumer_harness import TIMEOUT, broker, harness

__all__ = ["broker", "harness"]  # fixtures this module uses


def sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_show_consumer_backlog_and_dead_letters(aiohttp_client, harness):
    await harness.start()
    harness.publish(harness.topic("request.tag"), b"not json")
    await harness.until(lambda: harness.queue_depth(harness.dead_letter_queue) == 1,
                        "the dead letter")
    harness.stop.set()
    assert harness.task is not None
    await asyncio.wait_for(harness.task, timeout=TIMEOUT)
    harness.task = None
    for _ in range(2):  # waiting: nobody consumes now
        harness.publish(harness.topic("request.tag"), {"compose_id": "x", "tag": "y"})
    await harness.until(lambda: harness.queue_depth(harness.settings.consumer_queue) == 2,
                        "the backlog")
    client = await aiohttp_client(create_app(harness.settings))
    text = await (await client.get("/api/1/metrics/")).text()
    queue = harness.settings.consumer_queue
    assert f'cts_consumer_queue_messages{{queue="{queue}"}} 2.0' in text
    assert f'cts_consumer_dead_letter_messages{{queue="{queue}.dead-letter"}} 1.0' in text
    assert sample(text, "cts_consumer_queues_readable") == 1
