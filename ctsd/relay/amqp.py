"""Publishing outbox batches to RabbitMQ with publisher confirms.

One connection and confirm-mode channel (ctsd.amqp) on the relay's event loop, opened
on first use and dropped on any failure; the relay's backoff decides when to try again.
A batch is sent whole before its confirms are awaited (`publish_batch`).
"""

from __future__ import annotations

import asyncio
import logging

import pika
import pika.exceptions

from ctsd.amqp import AmqpChannel, AmqpError, Outgoing
from ctsd.broker.connection import BrokerConnector, BrokerRefused
from ctsd.broker.link import RELAY_LINK
from ctsd.broker.settings import BrokerSettings, safe_url
from ctsd.relay.wire import Envelope

log = logging.getLogger(__name__)

# pika narrates every connection at INFO and logs each refused connection as an ERROR
# with a traceback, once per retry while the broker is down; the relay reports the
# outage itself, in one line per attempt.
logging.getLogger("pika").setLevel(logging.WARNING)
for _noisy in ("pika.adapters.asyncio_connection", "pika.adapters.utils.connection_workflow",
               "pika.adapters.utils.io_services_utils", "pika.adapters.base_connection"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)

# Without it a broker that stops answering (memory alarm, half-open TCP) would hang the
# relay, and its claimed rows with it, forever.
CONFIRM_TIMEOUT = 30.0


class BrokerError(Exception):
    """Publishing failed; the message may or may not have arrived. Retry later."""


# Per envelope: True confirmed and routed, False confirmed but no queue is bound to its
# topic (normal on a topic exchange nobody subscribed to yet), or why it failed.
BatchResult = bool | BrokerError


class AmqpPublisher:
    """Publishes envelopes to one exchange; `close()` when done."""

    def __init__(self, amqp_url: str, exchange: str,
                 broker: BrokerSettings | None = None) -> None:
        self._connector = BrokerConnector(amqp_url, broker or BrokerSettings(),
                                          "ctsd outbox relay")
        self._exchange = exchange
        RELAY_LINK.configured = True
        self._channel: AmqpChannel | None = None

    async def publish_batch(self, envelopes: list[Envelope]) -> list[BatchResult]:
        """Publish all, then wait for their confirms: one result per envelope, in order.

        A failed connection fails every envelope not yet confirmed and is dropped; the
        next call reconnects.
        """
        try:
            channel = await self._open()
            outgoing = [Outgoing(self._exchange, e.routing_key, e.body, e.properties)
                        for e in envelopes]
            results = await asyncio.wait_for(channel.publish_many(outgoing),
                                             timeout=CONFIRM_TIMEOUT)
        except (AmqpError, TimeoutError, OSError) as exc:
            await self._disconnect()
            error = BrokerError(describe(exc))
            refused = isinstance(exc, BrokerRefused)
            if refused and not RELAY_LINK.refused:
                # Not an outage: a certificate or login problem only the operator can fix.
                log.error("outbox relay: the broker connection was refused, check the "
                          "certificates and login: %s", exc)
            RELAY_LINK.down(str(error), refused=refused)
            return [error] * len(envelopes)
        if any(isinstance(result, AmqpError) for result in results):
            await self._disconnect()
            RELAY_LINK.down("connection lost while publishing", refused=False)
        return [BrokerError(describe(result)) if isinstance(result, AmqpError) else result
                for result in results]

    async def keepalive(self) -> None:
        """Drop a connection the broker has closed, so the next batch starts afresh
        (pika's asyncio adapter answers heartbeats by itself)."""
        if self._channel is not None and self._channel.closed.done():
            log.info("outbox relay lost its broker connection: %s",
                     self._channel.closed.result())
            RELAY_LINK.down(self._channel.closed.result(), refused=False)
            await self._disconnect()

    async def close(self) -> None:
        await self._disconnect()
        RELAY_LINK.forget()

    async def _open(self) -> AmqpChannel:
        if self._channel is not None and not self._channel.closed.done():
            return self._channel
        await self._disconnect()
        channel = await self._connector.open()
        try:
            # A passive declare fails loudly (404) here, at connect, if the exchange is
            # misconfigured, instead of as a channel close in the middle of a batch.
            await channel.declare_exchange_exists(self._exchange)
        except BaseException:
            await channel.close()
            raise
        self._channel = channel
        url = safe_url(self._connector.last_url)
        RELAY_LINK.up(url)
        log.info("outbox relay connected to %s", url)
        return channel

    async def _disconnect(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            try:
                await channel.close()
            except (AmqpError, pika.exceptions.AMQPError, OSError):
                log.debug("closing a broken broker connection failed", exc_info=True)


def describe(exc: BaseException) -> str:
    """One line for the log and the outbox's last_error."""
    if isinstance(exc, TimeoutError):
        return "the broker did not answer in time"
    if str(exc):
        return f"{type(exc).__name__}: {exc}"
    # pika's connection errors have an empty str(); their repr carries the reason.
    return repr(exc)
