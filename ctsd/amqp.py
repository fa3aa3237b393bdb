"""One RabbitMQ connection and channel on the running asyncio loop, with awaitable calls.

pika's asyncio adapter is callback based; this wraps the few calls the consumer and the
outbox relay need as coroutines. It runs on the same loop as the command handlers, so
heartbeats keep flowing while a handler waits for the database. When the channel or
connection closes, every pending call fails with `AmqpError` and `deliveries` yields
None.

The channel is in confirm mode. `publish_many` sends a whole batch before waiting: the
broker confirms by delivery tag (1, 2, ... per channel, in publish order), often several
at once, so a batch costs about one round trip instead of one per message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.channel import Channel
from pika.spec import Basic, BasicProperties


class AmqpError(Exception):
    """The broker connection or channel is unusable; reconnect and start over."""


class PublishFailed(AmqpError):
    """The broker did not take a message (nacked, or no queue for its routing key)."""


@dataclass(frozen=True)
class Outgoing:
    """One message to publish (with `mandatory`: the broker returns it if unroutable)."""

    exchange: str
    routing_key: str
    body: bytes
    properties: BasicProperties
    mandatory: bool = True


# The outcome of one publish: True confirmed and routed, False confirmed but no queue
# was bound to it (only with mandatory), or the error (nacked, connection lost).
PublishResult = bool | AmqpError


@dataclass(frozen=True)
class Delivery:
    tag: int
    exchange: str
    routing_key: str
    properties: BasicProperties
    body: bytes
    redelivered: bool


class AmqpChannel:
    """Open with `await AmqpChannel.open(url)`; always `await close()` afterwards."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._connection: AsyncioConnection | None = None
        self._channel: Channel | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self._publish_lock = asyncio.Lock()
        # Confirm mode numbers publishes 1, 2, ... per channel: what each one waits on.
        self._last_tag = 0
        self._unconfirmed: dict[int, tuple[asyncio.Future[bool], str | None]] = {}
        self._returned: set[str | None] = set()
        self.deliveries: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self.closed: asyncio.Future[str] = loop.create_future()
        self._connection_gone: asyncio.Future[None] = loop.create_future()

    @classmethod
    async def open(cls, url: str | pika.URLParameters) -> AmqpChannel:
        self = cls(asyncio.get_running_loop())
        try:
            await self._connect(url if isinstance(url, pika.URLParameters)
                                else pika.URLParameters(url))
            await self._open_channel()
        except BaseException:
            await self.close()
            raise
        return self

    async def _connect(self, parameters: pika.URLParameters) -> None:
        opened = self._future()
        self._connection = AsyncioConnection(
            parameters,
            on_open_callback=lambda _conn: _settle(opened, None),
            on_open_error_callback=lambda _conn, exc: self._on_connection_gone(
                f"cannot connect to the broker: {exc!r}", exc),
            on_close_callback=lambda _conn, exc: self._on_connection_gone(
                f"connection closed: {exc!r}", exc),
            custom_ioloop=self._loop,
        )
        await opened

    async def _open_channel(self) -> None:
        assert self._connection is not None
        opened = self._future()
        self._connection.channel(on_open_callback=lambda channel: _settle(opened, channel))
        channel: Channel = await opened
        self._channel = channel
        channel.add_on_close_callback(
            lambda _ch, exc: self._on_closed(f"channel closed: {exc}"))
        channel.add_on_return_callback(self._on_return)
        # The broker cancels a consumer whose queue was deleted; the session is then as
        # good as closed, and starting over re-declares the queue and its bindings.
        channel.add_on_cancel_callback(
            lambda _frame: self._on_closed("the broker cancelled the consumer"))
        await self._call(channel.confirm_delivery, self._on_confirm)

    async def declare_exchange_exists(self, name: str) -> None:
        """Fail (the broker closes the channel: AmqpError) unless the exchange exists."""
        await self._call(self._open().exchange_declare, name, passive=True)

    async def declare_queue(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        await self._call(self._open().queue_declare, name, durable=True, arguments=arguments)

    async def queue_message_count(self, name: str) -> int:
        """Messages ready in an existing queue (a passive declare: creates nothing; a
        missing queue closes the channel, AmqpError)."""
        frame = await self._call(self._open().queue_declare, name, passive=True)
        return int(frame.method.message_count)

    async def bind(self, queue: str, exchange: str, routing_key: str) -> None:
        await self._call(self._open().queue_bind, queue, exchange, routing_key=routing_key)

    async def qos(self, prefetch_count: int) -> None:
        await self._call(self._open().basic_qos, prefetch_count=prefetch_count)

    async def consume(self, queue: str) -> None:
        """Start putting the queue's messages on `deliveries`; ack each with `ack()`."""
        await self._call(self._open().basic_consume, queue, self._on_message,
                         auto_ack=False)

    async def publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: BasicProperties, *, mandatory: bool = True) -> None:
        """Publish and wait for the broker's confirm; raise PublishFailed if it was
        refused or (with mandatory) no queue took it."""
        [result] = await self.publish_many(
            [Outgoing(exchange, routing_key, body, properties, mandatory)])
        if isinstance(result, AmqpError):
            raise result
        if not result:
            raise PublishFailed(f"{routing_key!r} not routed")

    async def publish_many(self, messages: list[Outgoing]) -> list[PublishResult]:
        """Publish all, then wait for every confirm; one result per message, in order.

        Unroutable messages are recognised by their message_id when the broker returns
        them, so give each mandatory message a distinct one.
        """
        async with self._publish_lock:  # one batch at a time: returns are then ours
            self._returned.clear()
            waiting = []
            channel = self._open()
            for message in messages:
                confirmed: asyncio.Future[bool] = self._future()
                self._last_tag += 1
                self._unconfirmed[self._last_tag] = (confirmed, message.properties.message_id)
                waiting.append(confirmed)
                try:
                    channel.basic_publish(message.exchange, message.routing_key, message.body,
                                          message.properties, message.mandatory)
                except pika.exceptions.AMQPError as exc:
                    self._on_closed(f"cannot publish: {exc!r}")
            results = await asyncio.gather(*waiting, return_exceptions=True)
        return [result if isinstance(result, bool | AmqpError) else AmqpError(repr(result))
                for result in results]

    def ack(self, delivery_tag: int, *, multiple: bool = False) -> None:
        """Acknowledge one delivery, or with `multiple` every one up to this tag."""
        try:
            self._open().basic_ack(delivery_tag, multiple=multiple)
        except pika.exceptions.AMQPError as exc:
            raise AmqpError(f"cannot acknowledge: {exc!r}") from exc

    async def close(self) -> None:
        """Close the connection; the broker requeues whatever was not acknowledged."""
        connection = self._connection
        if connection is not None:
            if not (connection.is_closed or connection.is_closing):
                connection.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._connection_gone), timeout=10)
        self._on_closed("closed by ctsd")

    def _open(self) -> Channel:
        if self._channel is None or not self._channel.is_open:
            raise AmqpError("channel is not open")
        return self._channel

    def _future(self) -> asyncio.Future[Any]:
        future = self._loop.create_future()
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    async def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        done = self._future()
        try:
            method(*args, callback=lambda frame: _settle(done, frame), **kwargs)
        except pika.exceptions.AMQPError as exc:
            raise AmqpError(repr(exc)) from exc
        return await done

    def _on_message(self, _channel: Channel, method: Basic.Deliver,
                    properties: BasicProperties, body: bytes) -> None:
        assert method.delivery_tag is not None and method.routing_key is not None
        self.deliveries.put_nowait(Delivery(method.delivery_tag, method.exchange or "",
                                            method.routing_key, properties, body,
                                            bool(method.redelivered)))

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = ([tag for tag in self._unconfirmed if tag <= method.delivery_tag]
                if method.multiple else [method.delivery_tag])
        for tag in tags:
            entry = self._unconfirmed.pop(tag, None)
            if entry is None:
                continue
            confirmed, message_id = entry
            if isinstance(method, Basic.Nack):
                _fail(confirmed, PublishFailed("broker nacked the message"))
            else:
                _settle(confirmed, message_id not in self._returned)

    def _on_return(self, _channel: Channel, _method: Basic.Return,
                   properties: BasicProperties, _body: bytes) -> None:
        # With mandatory publishing the broker returns an unroutable message before it
        # confirms it, so this lands before its confirm is looked at.
        self._returned.add(properties.message_id)

    def _on_connection_gone(self, why: str, cause: BaseException | None = None) -> None:
        _settle(self._connection_gone, None)
        self._on_closed(why, cause)

    def _on_closed(self, why: str, cause: BaseException | None = None) -> None:
        if self.closed.done():
            return
        self.closed.set_result(why)
        for future in list(self._pending):
            error = AmqpError(why)
            error.__cause__ = cause  # e.g. a TLS or login refusal, which callers tell apart
            _fail(future, error)
        self.deliveries.put_nowait(None)
        # A channel can fail on its own (e.g. a queue declared with other arguments);
        # without it the connection is useless, and closing it lets us start clean.
        connection = self._connection
        if connection is not None and not (connection.is_closed or connection.is_closing):
            connection.close()


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
