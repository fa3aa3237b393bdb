"""Publishing to RabbitMQ with publisher confirms, from asyncio.

pika's BlockingConnection is simple and well tested but blocking and not thread-safe,
so every call on it runs in one dedicated worker thread: asyncio code awaits it, and
no two calls ever touch the connection at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pika
import pika.exceptions

from ctsd.relay.wire import Envelope

log = logging.getLogger(__name__)

# pika narrates every connection at INFO and logs each refused connection as an ERROR
# with a traceback, once per retry while the broker is down; the relay reports the
# outage itself, in one line per attempt.
logging.getLogger("pika").setLevel(logging.WARNING)
for _noisy in ("pika.adapters.blocking_connection", "pika.adapters.utils.connection_workflow",
               "pika.adapters.utils.io_services_utils"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)

T = TypeVar("T")

# Without these a broker that stops answering (memory alarm, half-open TCP) would hang
# the relay, and its claimed rows with it, forever.
BLOCKED_CONNECTION_TIMEOUT = 60.0
SOCKET_TIMEOUT = 10.0


class BrokerError(Exception):
    """Publishing failed; the message may or may not have arrived. Retry later."""


class AmqpPublisher:
    """One connection and confirm-mode channel to the broker, opened on first use."""

    def __init__(self, amqp_url: str, exchange: str) -> None:
        self._url = amqp_url
        self._exchange = exchange
        self._connection: pika.BlockingConnection | None = None
        self._channel: pika.adapters.blocking_connection.BlockingChannel | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctsd-amqp")

    async def publish(self, envelope: Envelope) -> bool:
        """Publish and wait for the broker's confirm. False: no queue was bound to it.

        Raises BrokerError when the broker refused it (nack) or the connection failed.
        """
        return await self._in_thread(self._publish, envelope)

    async def keepalive(self) -> None:
        """Let pika answer heartbeats while idle; a dead connection is dropped quietly."""
        await self._in_thread(self._keepalive)

    async def close(self) -> None:
        await self._in_thread(self._disconnect)
        self._thread.shutdown(wait=False)

    async def _in_thread(self, func: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, func, *args)

    def _publish(self, envelope: Envelope) -> bool:
        try:
            channel = self._channel or self._connect()
            channel.basic_publish(self._exchange, envelope.routing_key, envelope.body,
                                  envelope.properties, mandatory=True)
        except pika.exceptions.UnroutableError:
            # Confirmed, but no queue is bound to this topic: normal on a topic exchange
            # (nobody subscribed yet). Retrying would not change that.
            return False
        except pika.exceptions.NackError as exc:
            self._disconnect()
            raise BrokerError(f"broker refused {envelope.routing_key}: {exc}") from exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._disconnect()
            raise BrokerError(describe(exc)) from exc
        return True

    def _connect(self) -> pika.adapters.blocking_connection.BlockingChannel:
        params = pika.URLParameters(self._url)
        # The relay does its own backoff; pika's connection_attempts would block inside it.
        params.connection_attempts = 1
        if params.blocked_connection_timeout is None:
            params.blocked_connection_timeout = BLOCKED_CONNECTION_TIMEOUT
        params.socket_timeout = min(params.socket_timeout or SOCKET_TIMEOUT, SOCKET_TIMEOUT)
        params.client_properties = {"connection_name": "ctsd outbox relay",
                                    **(params.client_properties or {})}
        self._connection = pika.BlockingConnection(params)
        channel = self._connection.channel()
        channel.confirm_delivery()
        # A passive declare fails loudly (404) here, at connect, if the exchange is
        # misconfigured, instead of as a channel close in the middle of a batch.
        channel.exchange_declare(self._exchange, passive=True)
        self._channel = channel
        log.info("outbox relay connected to %s", params.host)
        return channel

    def _keepalive(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.process_data_events(time_limit=0)
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.info("outbox relay lost its broker connection: %s", exc)
            self._disconnect()

    def _disconnect(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                log.debug("closing a broken broker connection failed", exc_info=True)


def describe(exc: BaseException) -> str:
    """One line for the log and the outbox's last_error."""
    if str(exc):
        return f"{type(exc).__name__}: {exc}"
    # pika's connection errors have an empty str(); their repr carries the reason.
    return repr(exc)
