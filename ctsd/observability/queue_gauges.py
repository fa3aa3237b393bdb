"""The consumer's lag and dead letters as the broker counts them, for /api/1/metrics/.

`ctsd consume` runs apart from the HTTP workers, so its backlog is read where it is
kept: the depth of its queue (messages not yet applied: the lag) and of its
dead-letter queue (messages it refused, kept for an operator). Any worker reads the
same numbers, so they are right with several workers. Read at most every few seconds
per process: each reading is a broker connection.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric

from ctsd.amqp import AmqpChannel, AmqpError
from ctsd.config import Settings

CACHE_SECONDS = 10.0
TIMEOUT_SECONDS = 3.0


@dataclass
class _Reading:
    at: float = -CACHE_SECONDS
    metrics: list[Metric] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_READINGS: dict[tuple[str, str], _Reading] = {}


async def consumer_queue_gauges(settings: Settings) -> list[Metric]:
    """cts_consumer_queue_messages and cts_consumer_dead_letter_messages (a queue that
    does not exist yet, or a broker that does not answer, is left out), and
    cts_consumer_queues_readable: 1 if both were read."""
    if not settings.amqp_url:
        return []
    reading = _READINGS.setdefault((settings.amqp_url, settings.consumer_queue), _Reading())
    async with reading.lock:
        if time.monotonic() - reading.at >= CACHE_SECONDS:
            reading.metrics = await _read(settings)
            reading.at = time.monotonic()
    return reading.metrics


async def _read(settings: Settings) -> list[Metric]:
    queues = {"cts_consumer_queue_messages": (settings.consumer_queue,
                                              "Messages waiting for `ctsd consume` (its lag)"),
              "cts_consumer_dead_letter_messages": (f"{settings.consumer_queue}.dead-letter",
                                                    "Messages the consumer refused, kept "
                                                    "with the reason in the dead-letter queue")}
    metrics: list[Metric] = []
    for name, (queue, documentation) in queues.items():
        depth = await _depth(settings.amqp_url, queue)
        if depth is not None:
            metrics.append(_gauge(name, documentation, queue, depth))
    metrics.append(GaugeMetricFamily("cts_consumer_queues_readable", "1 if the broker "
                                     "answered for both consumer queues",
                                     value=1 if len(metrics) == 2 else 0))
    return metrics


def _gauge(name: str, documentation: str, queue: str, depth: int) -> Metric:
    gauge = GaugeMetricFamily(name, documentation, labels=["queue"])
    gauge.add_metric([queue], depth)
    return gauge


async def _depth(amqp_url: str, queue: str) -> int | None:
    # One connection per queue: a missing queue closes the channel it was asked on.
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            channel = await AmqpChannel.open(amqp_url)
            try:
                return await channel.queue_message_count(queue)
            finally:
                await channel.close()
    except (AmqpError, OSError, TimeoutError):
        return None
