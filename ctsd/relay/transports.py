"""Which publisher the relay uses: AMQP 0-9-1 (RabbitMQ), AMQP 1.0 (UMB) or both
([messaging] transports)."""

from __future__ import annotations

import asyncio
from typing import Protocol

from ctsd.config import Settings
from ctsd.relay.amqp import AmqpPublisher, BatchResult, BrokerError
from ctsd.relay.amqp1 import Amqp1Publisher
from ctsd.relay.wire import Envelope


class Publisher(Protocol):
    async def publish_batch(self, envelopes: list[Envelope]) -> list[BatchResult]: ...
    async def keepalive(self) -> None: ...
    async def close(self) -> None: ...


def relay_configured(settings: Settings) -> bool:
    """Whether there is a broker to relay to at all."""
    transports = settings.broker.transports
    return bool(("amqp" in transports and settings.amqp_url)
                or ("amqp1" in transports and settings.broker.amqp1))


def publisher_for(settings: Settings) -> Publisher:
    publishers: list[Publisher] = []
    if "amqp" in settings.broker.transports and settings.amqp_url:
        publishers.append(AmqpPublisher(settings.amqp_url, settings.publish_exchange,
                                        settings.broker))
    if "amqp1" in settings.broker.transports and settings.broker.amqp1 is not None:
        publishers.append(Amqp1Publisher(settings.broker.amqp1, settings.topic_prefix))
    return publishers[0] if len(publishers) == 1 else BothPublishers(publishers)


class BothPublishers:
    """Every message to every broker. A row counts as sent once all of them confirmed
    it; if one failed, it goes again to all (same message id): a duplicate on the one
    that took it, never a loss on the other."""

    def __init__(self, publishers: list[Publisher]) -> None:
        self._publishers = publishers

    async def publish_batch(self, envelopes: list[Envelope]) -> list[BatchResult]:
        outcomes = await asyncio.gather(*(p.publish_batch(envelopes) for p in self._publishers))
        results: list[BatchResult] = []
        for per_envelope in zip(*outcomes, strict=True):
            errors = [r for r in per_envelope if isinstance(r, BrokerError)]
            results.append(errors[0] if errors else all(per_envelope))
        return results

    async def keepalive(self) -> None:
        for publisher in self._publishers:
            await publisher.keepalive()

    async def close(self) -> None:
        for publisher in self._publishers:
            await publisher.close()
