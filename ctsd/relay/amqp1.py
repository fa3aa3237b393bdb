"""Publishing outbox batches to an AMQP 1.0 broker (UMB): each message goes to the
address its topic maps to ([messaging.amqp1] address), and the broker settling it as
accepted is the confirm, so the outbox guarantees are those of AMQP 0-9-1 with
publisher confirms: marked sent only once accepted, retried (same message id) else.
"""

from __future__ import annotations

import logging
from typing import Any

from proton import Message
from proton.utils import BlockingConnection, BlockingSender

from ctsd.broker.amqp1 import Amqp1Worker, connect
from ctsd.broker.amqp1_settings import Amqp1Settings
from ctsd.broker.settings import safe_url
from ctsd.relay.amqp import BatchResult, BrokerError, describe
from ctsd.relay.wire import Envelope

log = logging.getLogger(__name__)

SETTLE_TIMEOUT = 30.0
_SIMPLE = (str, int, float, bool)


class Amqp1Publisher:
    """Publishes envelopes to AMQP 1.0 addresses; `close()` when done."""

    def __init__(self, settings: Amqp1Settings, topic_prefix: str) -> None:
        self._settings = settings
        self._prefix = topic_prefix
        self._worker = Amqp1Worker("ctsd-amqp1-relay")
        self._connection: BlockingConnection | None = None
        self._senders: dict[str, BlockingSender] = {}

    async def publish_batch(self, envelopes: list[Envelope]) -> list[BatchResult]:
        """One result per envelope, in order; after a failure the rest fail too (the
        relay holds back their composes and retries)."""
        return await self._worker.run(self._publish_all, envelopes)

    async def keepalive(self) -> None:
        """Nothing to do: proton's heartbeats run while the worker waits on it."""

    async def close(self) -> None:
        await self._worker.run(self._disconnect)
        self._worker.shutdown()

    def _publish_all(self, envelopes: list[Envelope]) -> list[BatchResult]:
        results: list[BatchResult] = []
        for index, envelope in enumerate(envelopes):
            try:
                self._sender(envelope.routing_key).send(message_of(envelope),
                                                        timeout=SETTLE_TIMEOUT)
            except Exception as exc:  # refused (SendException), link or connection lost
                error = BrokerError(f"AMQP 1.0: {describe(exc)}")
                self._disconnect()
                return results + [error] * (len(envelopes) - index)
            results.append(True)
        return results

    def _sender(self, topic: str) -> BlockingSender:
        if self._connection is None:
            self._connection, url = connect(self._settings, "ctsd-outbox-relay")
            log.info("outbox relay connected to AMQP 1.0 broker %s", safe_url(url))
        address = self._settings.address_for(topic, self._prefix)
        sender = self._senders.get(address)
        if sender is None:
            sender = self._senders[address] = self._connection.create_sender(address)
        return sender

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self._senders.clear()
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.debug("closing a broken AMQP 1.0 connection failed", exc_info=True)


def message_of(envelope: Envelope) -> Message:
    """The AMQP 1.0 form of an outbox message: the same id, the JSON bytes as one data
    section (content type application/json; brokers hand it on byte for byte, RabbitMQ
    to AMQP 0-9-1 consumers too), the topic as subject, headers as application
    properties."""
    properties = envelope.properties
    headers: dict[str, Any] = dict(properties.headers or {})
    return Message(
        id=properties.message_id, body=envelope.body, inferred=True, durable=True,
        subject=envelope.routing_key, content_type=properties.content_type or "application/json",
        correlation_id=properties.correlation_id,
        properties={str(k): v if isinstance(v, _SIMPLE) else str(v)
                    for k, v in headers.items() if v is not None},
    )
