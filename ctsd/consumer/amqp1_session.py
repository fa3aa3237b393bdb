"""Reading a queue over AMQP 1.0 (UMB) with the same surface the consume loop uses on
AMQP 0-9-1 (ctsd.amqp.AmqpChannel): `deliveries`, `closed`, `ack`, `publish`, `close`.

A thread of its own runs proton: it receives (prefetching up to `credit`), hands each
message to the event loop as a `Delivery`, and settles as accepted, oldest first,
what the loop acknowledged. Unsettled messages go back to the queue when the
connection drops, as on AMQP 0-9-1; the processed-message record makes that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from typing import Any

from pika.spec import BasicProperties
from proton import Message
from proton.utils import BlockingConnection, BlockingReceiver

from ctsd.amqp import AmqpError, Delivery, _fail, _settle  # the same future helpers
from ctsd.broker.amqp1 import DurableTerminus, connect
from ctsd.broker.amqp1_settings import Amqp1Settings
from ctsd.broker.settings import safe_url

log = logging.getLogger(__name__)

POLL = 0.2  # seconds between looks at acks and stop while no message comes
_TOPIC_ANNOTATIONS = ("x-routing-key", "x-opt-routing-key")


class Amqp1Session:
    """Open with `await Amqp1Session.open(settings, credit)`; always `await close()`."""

    def __init__(self, settings: Amqp1Settings, credit: int) -> None:
        self._settings = settings
        self._credit = credit
        self._loop = asyncio.get_running_loop()
        self.deliveries: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self._requests: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._opened: asyncio.Future[str] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name="ctsd-amqp1-consumer",
                                        daemon=True)
        self._received = 0
        self._settled = 0
        self.url = ""  # the broker URL it connected to

    @classmethod
    async def open(cls, settings: Amqp1Settings, credit: int) -> Amqp1Session:
        self = cls(settings, credit)
        self._thread.start()
        try:
            self.url = await self._opened
        except Exception as exc:
            raise AmqpError(f"AMQP 1.0: cannot consume from {settings.consume_from}: "
                            f"{type(exc).__name__}: {exc}") from exc
        log.info("consuming from %s on AMQP 1.0 broker %s", settings.consume_from,
                 safe_url(self.url))
        return self

    def ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Settle as accepted every delivery up to this tag (they are in order)."""
        if self.closed.done():
            raise AmqpError(f"cannot acknowledge: {self.closed.result()}")
        self._requests.put(("ack", delivery_tag))

    async def publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: BasicProperties, *, mandatory: bool = True) -> None:
        """Send to an address: the dead-letter address for the dead-letter queue's name,
        else `routing_key` itself (a reply-to address); wait until it is accepted."""
        del exchange, mandatory  # AMQP 1.0 has addresses instead
        address = (self._settings.dead_letter_address if routing_key.endswith(".dead-letter")
                   else routing_key)
        done: asyncio.Future[None] = self._loop.create_future()
        self._requests.put(("send", (address, _message(body, properties), done)))
        await done

    async def close(self) -> None:
        self._requests.put(("stop", None))
        await asyncio.to_thread(self._thread.join, 15)
        self._set_closed("closed by ctsd")

    def _run(self) -> None:
        try:
            connection, url = connect(self._settings, "ctsd-consumer")
            receiver = connection.create_receiver(self._settings.consume_from,
                                                  credit=self._credit,
                                                  options=DurableTerminus())
        except Exception as exc:
            self._loop.call_soon_threadsafe(_fail, self._opened, exc)
            self._loop.call_soon_threadsafe(self._set_closed, f"cannot connect: {exc}")
            return
        self._loop.call_soon_threadsafe(_settle, self._opened, url)
        why = "closed by ctsd"
        try:
            self._serve(connection, receiver)
        except Exception as exc:  # the connection or link failed
            why = f"AMQP 1.0 connection lost: {type(exc).__name__}: {exc}"
        finally:
            with contextlib.suppress(Exception):
                connection.close()
            self._loop.call_soon_threadsafe(self._set_closed, why)

    def _serve(self, connection: BlockingConnection, receiver: BlockingReceiver) -> None:
        senders: dict[str, Any] = {}
        while True:
            if not self._handle_requests(connection, receiver, senders):
                return
            try:
                message = receiver.receive(timeout=POLL)
            except Exception as exc:
                if type(exc).__name__ == "Timeout":
                    continue
                raise
            self._received += 1
            delivery = _delivery(self._received, message)
            self._loop.call_soon_threadsafe(self.deliveries.put_nowait, delivery)

    def _handle_requests(self, connection: BlockingConnection, receiver: BlockingReceiver,
                         senders: dict[str, Any]) -> bool:
        while True:
            try:
                kind, value = self._requests.get_nowait()
            except queue.Empty:
                return True
            if kind == "stop":
                return False
            if kind == "ack":
                while self._settled < min(value, self._received):
                    receiver.accept()  # settles the oldest unsettled one
                    self._settled += 1
            else:
                address, message, done = value
                self._send(connection, senders, address, message, done)

    def _send(self, connection: BlockingConnection, senders: dict[str, Any], address: str,
              message: Message, done: asyncio.Future[None]) -> None:
        try:
            sender = senders.get(address) or senders.setdefault(
                address, connection.create_sender(address, options=DurableTerminus()))
            sender.send(message, timeout=30)
        except Exception as exc:
            self._loop.call_soon_threadsafe(_fail, done, AmqpError(f"cannot send: {exc}"))
            raise
        self._loop.call_soon_threadsafe(_settle, done, None)

    def _set_closed(self, why: str) -> None:
        if not self.closed.done():
            self.closed.set_result(why)
            self.deliveries.put_nowait(None)


def _delivery(tag: int, message: Message) -> Delivery:
    """A Delivery as from AMQP 0-9-1: the topic, user_id, message id, headers."""
    annotations: dict[Any, Any] = message.annotations or {}
    topic = next((str(annotations[k]) for k in _TOPIC_ANNOTATIONS if k in annotations), "")
    if not topic:
        # UMB: the address it was sent to; RabbitMQ: the routing key, as subject.
        address = message.address or ""
        topic = (address.removeprefix("topic://").removeprefix("/topic/")
                 or (message.subject or ""))
    body = message.body
    raw = bytes(body) if isinstance(body, bytes | bytearray | memoryview) else \
        str(body).encode()
    user_id = message.user_id.decode() if isinstance(message.user_id, bytes) else None
    properties = BasicProperties(
        message_id=str(message.id) if message.id is not None else None,
        correlation_id=str(message.correlation_id) if message.correlation_id else None,
        content_type=message.content_type, user_id=user_id or None,
        reply_to=message.reply_to, headers=dict(message.properties or {}))
    return Delivery(tag, "", topic, properties, raw, False)


def _message(body: bytes, properties: BasicProperties) -> Message:
    headers = {str(k): v if isinstance(v, str | int | float | bool) else str(v)
               for k, v in (properties.headers or {}).items() if v is not None}
    return Message(id=properties.message_id, body=body, inferred=True, durable=True,
                   content_type=properties.content_type,
                   correlation_id=properties.correlation_id, properties=headers)
