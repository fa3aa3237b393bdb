"""The consume loop: deliveries in batches, through the command bus, then ack.

Whatever deliveries are waiting (up to `[consumer] batch_size`) are applied in order in
one transaction (`CommandBus.execute_batch`) and acknowledged together after its
commit. If any of them fails, that transaction is undone and the batch's messages are
applied one per transaction instead, so each gets its own outcome:
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
import json
import logging
from dataclasses import replace
from typing import Any

from pika.spec import BasicProperties
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential
from tenacity.wait import wait_base

from ctsd.amqp import AmqpChannel, AmqpError, Delivery
from ctsd.auth.errors import AuthUnavailable
from ctsd.auth.groups import group_resolver_from
from ctsd.broker.connection import BrokerConnector, BrokerRefused
from ctsd.broker.queues import consumer_queue_arguments, dead_letter_queue_arguments
from ctsd.broker.settings import safe_url
from ctsd.config import Settings
from ctsd.consumer.deliveries import dead_letter_properties, is_outage, message_key
from ctsd.consumer.inputs import InputTopics, Intent, Refused, decode_body, intent_for
from ctsd.db.errors import DATA_ERROR_MESSAGE, is_data_error
from ctsd.observability.bus_tracing import consuming
from ctsd.service import BusCommand, CommandBus
from handlers.errors import CommandError

log = logging.getLogger(__name__)

# Low: a consumer standing by must take over soon after a broker node comes back.
MAX_RECONNECT_DELAY = 5.0
_REASONS = {401: "not authenticated", 403: "forbidden", 404: "unknown compose",
            409: "conflict"}


class Consumer:
    def __init__(self, settings: Settings, bus: CommandBus,
                 outage_wait: wait_base | None = None) -> None:
        self.settings = settings
        self.bus = bus
        self.topics = InputTopics.from_settings(settings)
        self.queue = settings.consumer_queue
        self.dead_letter_queue = f"{self.queue}.dead-letter"
        self.batch_size = max(1, min(settings.consumer_batch_size, settings.consumer_prefetch))
        self.outage_wait = outage_wait or wait_exponential(multiplier=0.5, max=30)
        # Senders get their groups as HTTP callers do ([auth.groups], LDAP).
        self.groups = group_resolver_from(settings)
        self._connector = BrokerConnector(settings.amqp_url, settings.broker, "ctsd consumer")

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, reconnecting to the broker as needed."""
        delay = 1.0
        while not stop.is_set():
            try:
                await self._session(stop)
                delay = 1.0
            except BrokerRefused as exc:
                log.error("broker refused the connection, check the certificates and "
                          "login: %s; retrying in %.0f s", exc, delay)
            except AmqpError as exc:
                log.warning("broker: %s; reconnecting in %.0f s", exc, delay)
            else:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, MAX_RECONNECT_DELAY)

    async def _session(self, stop: asyncio.Event) -> None:
        channel = await self._connector.open()
        try:
            await self._declare(channel)
            await channel.consume(self.queue)
            log.info("consuming from %s on %s (%d topics)", self.queue,
                     safe_url(self._connector.last_url), len(self.topics.routing_keys()))
            await self._work(channel, stop)
        finally:
            await channel.close()

    async def _declare(self, channel: AmqpChannel) -> None:
        queue_type = self.settings.consumer_queue_type
        await channel.declare_queue(self.queue, consumer_queue_arguments(
            queue_type, self.settings.consumer_single_active))
        await channel.declare_queue(self.dead_letter_queue,
                                    dead_letter_queue_arguments(queue_type))
        for routing_key in self.topics.routing_keys():
            await channel.bind(self.queue, self.settings.consumer_exchange, routing_key)
        await channel.qos(self.settings.consumer_prefetch)

    async def _work(self, channel: AmqpChannel, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                got, first = await _unless(channel.deliveries.get(), stopping)
                if not got:
                    return
                if first is None:
                    raise AmqpError(channel.closed.result())
                batch = [first, *_waiting(channel.deliveries, self.batch_size - 1)]
                handled, _ = await _unless(self.handle_batch(channel, batch), stopping,
                                           channel.closed)
                # Stopped or disconnected mid-batch, it was cancelled. That is safe: an
                # uncommitted transaction rolls back, and a committed one is recognised
                # by its message ids when the broker redelivers the messages.
                if not handled and channel.closed.done():
                    raise AmqpError(channel.closed.result())
                if not handled:
                    return
        finally:
            stopping.cancel()

    async def handle_batch(self, channel: AmqpChannel, batch: list[Delivery]) -> None:
        """Run deliveries to their end (committed, ignored or dead-lettered), then ack
        them all at once. They came in this order on this channel, so acknowledging
        the last one with `multiple` acknowledges exactly these. Dead letters keep the
        order the messages came in."""
        with consuming(batch, message_key):
            await self._handle_batch(channel, batch)

    async def _handle_batch(self, channel: AmqpChannel, batch: list[Delivery]) -> None:
        plans = [await self._plan(delivery) for delivery in batch]
        runnable = [(delivery, plan) for delivery, plan in zip(batch, plans, strict=True)
                    if isinstance(plan, BusCommand)]
        together = len(runnable) > 1 and await self._execute_together(runnable)
        for delivery, plan in zip(batch, plans, strict=True):
            if isinstance(plan, Refused):
                await self._dead_letter(channel, delivery, message_key(delivery), plan)
            elif isinstance(plan, BusCommand) and not together:
                await self._apply_alone(channel, delivery, plan)
        channel.ack(batch[-1].tag, multiple=True)

    async def _plan(self, delivery: Delivery) -> BusCommand | Refused | None:
        """The command a delivery asks for, why it is refused, or None: nothing to do."""
        key = message_key(delivery)
        try:
            intent = self._intent(delivery, key)
        except Refused as refusal:
            return refusal
        if intent is None:
            log.info("message %s on %s: nothing to do", key, delivery.routing_key)
            return None
        try:
            groups = await self.groups.groups_for(intent.actor.username)
        except AuthUnavailable:
            # The directory is away: wait for it, as for the database.
            async for attempt in self._outage_retrying():
                with attempt:
                    groups = await self.groups.groups_for(intent.actor.username)
        return BusCommand(intent.command, replace(intent.actor, groups=groups), key)

    async def _apply_alone(self, channel: AmqpChannel, delivery: Delivery,
                           item: BusCommand) -> None:
        try:
            await self._execute(item, delivery.routing_key)
        except Refused as refusal:
            await self._dead_letter(channel, delivery, item.message_id, refusal)

    async def _execute_together(self, runnable: list[tuple[Delivery, BusCommand]]) -> bool:
        """Apply the batch in one transaction; False if any message of it failed (then
        nothing of it was kept)."""
        items = [item for _, item in runnable]
        try:
            async for attempt in self._outage_retrying():
                with attempt:
                    outcomes = await self.bus.execute_batch(items)
        except Exception as exc:
            log.info("a batch of %d messages failed (%s: %s); applying them one by one",
                     len(items), type(exc).__name__, exc)
            return False
        # Each message at DEBUG: at bus rates a line per message would exceed journald's
        # default rate limit (10,000 lines in 30 s) and lose lines. The batch is logged
        # at INFO, each dead letter at WARNING, and history and outbox keep every effect.
        for (delivery, item), outcome in zip(runnable, outcomes, strict=True):
            _log_applied(item, delivery.routing_key, outcome.replayed, logging.DEBUG)
        replayed = sum(outcome.replayed for outcome in outcomes)
        log.info("applied a batch of %d messages (%d already processed)", len(items), replayed)
        return True

    def _outage_retrying(self) -> AsyncRetrying:
        return AsyncRetrying(retry=retry_if_exception(is_outage), wait=self.outage_wait,
                             before_sleep=_log_outage, reraise=True)

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

    async def _execute(self, item: BusCommand, routing_key: str) -> None:
        key = item.message_id
        try:
            async for attempt in self._outage_retrying():
                with attempt:
                    outcome = await self.bus.execute(item.command, item.actor,
                                                     in_reply_to=key, message_id=key)
        except CommandError as exc:
            reason = _REASONS.get(exc.status, "invalid input")
            raise Refused(exc.status, reason, exc.message) from exc
        except Exception as exc:
            if is_data_error(exc):
                # The database refused a value of the message: the sender's to fix.
                raise Refused(400, "invalid input", DATA_ERROR_MESSAGE) from exc
            # A bug: retrying cannot help, and holding the message would stop the whole
            # queue behind it.
            log.exception("message %s on %s failed", key, routing_key)
            raise Refused(500, "internal error", f"{type(exc).__name__}: {exc}") from exc
        _log_applied(item, routing_key, outcome.replayed)

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


def _waiting(deliveries: asyncio.Queue[Delivery | None], limit: int) -> list[Delivery]:
    """Up to `limit` deliveries that are already here, without waiting for more.

    A None (the channel closed) stays in the queue for the loop to find after this batch.
    """
    taken: list[Delivery] = []
    while len(taken) < limit:
        try:
            delivery = deliveries.get_nowait()
        except asyncio.QueueEmpty:
            break
        if delivery is None:
            # Nothing can follow a None, so putting it back keeps it last.
            deliveries.put_nowait(None)
            break
        taken.append(delivery)
    return taken


def _log_applied(item: BusCommand, routing_key: str, replayed: bool,
                 level: int = logging.INFO) -> None:
    what = "already processed" if replayed else "committed"
    log.log(level, "message %s on %s (%s as %s): %s", item.message_id, routing_key,
             type(item.command).__name__, item.actor.username, what)


def _log_outage(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    delay = state.next_action.sleep if state.next_action else 0
    log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
