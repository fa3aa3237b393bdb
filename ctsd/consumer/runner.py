"""The consume loop: one delivery at a time, through the command bus, then ack.

Outcomes of a delivery:
- its command commits (or it was already processed, or CTS has no use for it): ack;
- it can never succeed (bad JSON or schema, refused, unknown compose, a bug): publish
  it to the dead-letter queue `<queue>.dead-letter` with the reason in headers, then
  ack, so it never loops;
- the database is unreachable: keep it unacknowledged and retry with backoff until the
  database is back or ctsd stops (then the broker requeues it).
A broker failure drops the session; the loop reconnects and the broker redelivers
whatever was not acknowledged, which the processed-message record makes harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from typing import Any

from pika.spec import BasicProperties
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential
from tenacity.wait import wait_base

from ctsd.config import Settings
from ctsd.consumer.amqp import AmqpChannel, AmqpError, Delivery
from ctsd.consumer.inputs import InputTopics, Intent, Refused, decode_body, intent_for
from ctsd.service import CommandBus
from handlers.errors import CommandError

log = logging.getLogger(__name__)

MAX_RECONNECT_DELAY = 60.0
_REASONS = {401: "not authenticated", 403: "forbidden", 404: "unknown compose",
            409: "conflict"}


# PostgreSQL SQLSTATE classes that are about the server, not the statement: connection
# exception, bad credentials, no such database, out of resources, shutting down or
# starting up, system error. The database is "away" for all of them (a wrong setting
# too): the message must wait for it, not be dead-lettered.
_OUTAGE_SQLSTATE_CLASSES = {"08", "28", "3D", "53", "57", "58"}


def is_outage(exc: BaseException) -> bool:
    """True for failures that say nothing about the message: the database is away."""
    if isinstance(exc, (OperationalError, InterfaceError, OSError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or ""
    return exc.connection_invalidated or code[:2] in _OUTAGE_SQLSTATE_CLASSES


def message_key(delivery: Delivery) -> str:
    """The id a redelivery of this message has too: its message_id, else a digest."""
    message_id = delivery.properties.message_id
    if message_id and len(message_id) <= 255:
        return message_id
    digest = hashlib.sha256(delivery.routing_key.encode() + b"\n" + delivery.body)
    return digest.hexdigest()


class Consumer:
    def __init__(self, settings: Settings, bus: CommandBus,
                 outage_wait: wait_base | None = None) -> None:
        self.settings = settings
        self.bus = bus
        self.topics = InputTopics.from_settings(settings)
        self.queue = settings.consumer_queue
        self.dead_letter_queue = f"{self.queue}.dead-letter"
        self.outage_wait = outage_wait or wait_exponential(multiplier=0.5, max=30)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, reconnecting to the broker as needed."""
        delay = 1.0
        while not stop.is_set():
            try:
                await self._session(stop)
                delay = 1.0
            except AmqpError as exc:
                log.warning("broker: %s; reconnecting in %.0f s", exc, delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY)

    async def _session(self, stop: asyncio.Event) -> None:
        channel = await AmqpChannel.open(self.settings.amqp_url)
        try:
            await self._declare(channel)
            await channel.consume(self.queue)
            log.info("consuming from %s (%d topics)", self.queue,
                     len(self.topics.routing_keys()))
            await self._work(channel, stop)
        finally:
            await channel.close()

    async def _declare(self, channel: AmqpChannel) -> None:
        await channel.declare_queue(self.queue)
        await channel.declare_queue(self.dead_letter_queue)
        for routing_key in self.topics.routing_keys():
            await channel.bind(self.queue, self.settings.consumer_exchange, routing_key)
        await channel.qos(self.settings.consumer_prefetch)

    async def _work(self, channel: AmqpChannel, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                got, delivery = await _unless(channel.deliveries.get(), stopping)
                if not got:
                    return
                if delivery is None:
                    raise AmqpError(channel.closed.result())
                handled, _ = await _unless(self.handle(channel, delivery), stopping,
                                           channel.closed)
                # Stopped or disconnected mid-message, it was cancelled. That is safe: an
                # uncommitted transaction rolls back, and a committed one is recognised
                # by its message id when the broker redelivers the message.
                if not handled and channel.closed.done():
                    raise AmqpError(channel.closed.result())
                if not handled:
                    return
        finally:
            stopping.cancel()

    async def handle(self, channel: AmqpChannel, delivery: Delivery) -> None:
        """Run one delivery to its end: committed, ignored or dead-lettered; then ack."""
        key = message_key(delivery)
        try:
            intent = self._intent(delivery, key)
            if intent is None:
                log.info("message %s on %s: nothing to do", key, delivery.routing_key)
            else:
                await self._execute(intent, key, delivery.routing_key)
        except Refused as refusal:
            await self._dead_letter(channel, delivery, key, refusal)
        channel.ack(delivery.tag)

    def _intent(self, delivery: Delivery, key: str) -> Intent | None:
        try:
            body = decode_body(delivery.body)
            return intent_for(self.topics, delivery.routing_key, body,
                              delivery.properties.user_id)
        except Refused:
            raise
        except Exception as exc:
            # A message that trips a bug would trip it on every redelivery: park it.
            log.exception("message %s on %s: cannot read it", key, delivery.routing_key)
            raise Refused(500, "internal error", f"{type(exc).__name__}: {exc}") from exc

    async def _execute(self, intent: Intent, key: str, routing_key: str) -> None:
        retrying = AsyncRetrying(retry=retry_if_exception(is_outage), wait=self.outage_wait,
                                 before_sleep=_log_outage, reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    outcome = await self.bus.execute(intent.command, intent.actor,
                                                     in_reply_to=key, message_id=key)
        except CommandError as exc:
            reason = _REASONS.get(exc.status, "invalid input")
            raise Refused(exc.status, reason, exc.message) from exc
        except Exception as exc:
            # A bug or data the database refuses: retrying cannot help, and holding the
            # message would stop the whole queue behind it.
            log.exception("message %s on %s failed", key, routing_key)
            raise Refused(500, "internal error", f"{type(exc).__name__}: {exc}") from exc
        what = "already processed" if outcome.replayed else "committed"
        log.info("message %s on %s (%s as %s): %s", key, routing_key,
                 type(intent.command).__name__, intent.actor.username, what)

    async def _dead_letter(self, channel: AmqpChannel, delivery: Delivery, key: str,
                           refusal: Refused) -> None:
        log.warning("message %s on %s dead-lettered: %s (%s)", key, delivery.routing_key,
                    refusal.reason, refusal.message)
        await channel.publish("", self.dead_letter_queue, delivery.body,
                              dead_letter_properties(delivery, key, refusal))
        reply_to = delivery.properties.reply_to
        if reply_to:
            reply = {"status": refusal.status, "error": refusal.reason,
                     "message": refusal.message, "in_reply_to": key}
            # Best effort: the dead letter is the record; a vanished reply queue is fine.
            await channel.publish("", reply_to, json.dumps(reply).encode(), BasicProperties(
                content_type="application/json", correlation_id=key, delivery_mode=2,
            ), mandatory=False)


def dead_letter_properties(delivery: Delivery, key: str, refusal: Refused
                           ) -> BasicProperties:
    """The original properties and headers plus why and whence. The sender's user_id
    moves to a header: RabbitMQ refuses a user_id other than the publisher's own."""
    original = delivery.properties
    headers: dict[str, Any] = dict(original.headers or {})
    headers.update({
        "x-cts-error": refusal.message[:4000],
        "x-cts-error-status": refusal.status,
        "x-cts-error-reason": refusal.reason,
        "x-cts-original-exchange": delivery.exchange,
        "x-cts-original-routing-key": delivery.routing_key,
    })
    if original.user_id:
        headers["x-cts-original-user-id"] = original.user_id
    return BasicProperties(
        content_type=original.content_type, content_encoding=original.content_encoding,
        message_id=key, correlation_id=original.correlation_id,
        timestamp=original.timestamp, type=original.type, app_id=original.app_id,
        delivery_mode=2, headers=headers,
    )


async def _unless(awaitable: Any, *interrupts: asyncio.Future[Any]) -> tuple[bool, Any]:
    """(True, result) if `awaitable` finishes first; else cancel it and (False, None)."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task, *interrupts}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, AmqpError):
        await task
    return False, None


def _log_outage(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else 0
    log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
