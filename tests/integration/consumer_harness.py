"""A consumer under test: its own queue and topics on the real RabbitMQ, a real
PostgreSQL database, a publisher and readers for what it did (tests/integration)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import create_engine, select

from ctsd.config import Principals, Settings
from ctsd.consumer import run_consumer
from ctsd.db.engine import create_engine as create_async_engine
from ctsd.db.tables import compose_changes, composes, outbox
from ctsd.service import CommandBus
from handlers.commands import ChangeTagPermission, CreateTag, ImportCompose
from handlers.identity import ANONYMOUS, Roles
from tests.conftest import service_missing

AMQP_URL = os.environ.get("CTS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
BROKER_USER = "guest"  # the login of AMQP_URL: RabbitMQ only accepts this user_id
FIXTURES = Path(__file__).parent.parent / "fixtures"
TIMEOUT = 15.0

ORACLE_JAVA = "OracleJava-7.4-RHEL-7-20170602.n.0"
FEDORA_ELN = "Fedora-ELN-20230619.1"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def compose_info(compose_id: str) -> dict[str, Any]:
    """ComposeInfo whose allocated id is `compose_id` (one of the two the fixtures name)."""
    header = {"type": "productmd.composeinfo", "version": "1.2"}
    if compose_id == ORACLE_JAVA:
        return {"header": header, "payload": {
            "compose": {"date": "20170602", "id": compose_id, "respin": 0, "type": "nightly"},
            "release": {"name": "OracleJava", "short": "OracleJava", "version": "7.4",
                        "type": "ga", "is_layered": True, "internal": False},
            "base_product": {"name": "Red Hat Enterprise Linux", "short": "RHEL",
                             "version": "7", "type": "ga"},
            "variants": {}}}
    assert compose_id == FEDORA_ELN
    return {"header": header, "payload": {
        "compose": {"date": "20230619", "id": compose_id, "respin": 1, "type": "production"},
        "release": {"name": "Fedora", "short": "Fedora", "version": "ELN", "type": "ga",
                    "internal": False},
        "variants": {}}}


@pytest.fixture
def broker() -> Iterator[pika.BlockingConnection]:
    try:
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    except pika.exceptions.AMQPError as exc:
        service_missing("RabbitMQ", exc)
    yield connection
    connection.close()


@dataclass
class Harness:
    """One test's consumer: its settings, a publisher and readers for what it did."""

    settings: Settings
    broker: pika.BlockingConnection
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.settings.consumer_queue}.dead-letter"

    def topic(self, name: str) -> str:
        """The test's spelling of a fixture's topic (unique per test)."""
        for topic in (*self.settings.pungi_topics, *self.settings.odcs_topics):
            if topic.endswith(name.removeprefix("org.fedoraproject.prod.")):
                return topic
        return self.settings.topic_prefix + name

    async def start(self, consumer: Callable[[], Any] | None = None) -> None:
        run = consumer() if consumer else run_consumer(self.settings, self.stop)
        self.task = asyncio.ensure_future(run)
        await self.until(lambda: self.consumers() > 0, "the consumer to subscribe")

    async def subscribe_then_stop(self) -> None:
        """Create the queue and its bindings, then stop consuming: messages published
        next wait in the queue until `start` (they then arrive as one backlog)."""
        await self.start()
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=TIMEOUT)
        self.stop, self.task = asyncio.Event(), None

    def publish(self, routing_key: str, body: bytes | dict[str, Any], **props: Any) -> str:
        props.setdefault("message_id", str(uuid.uuid4()))
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        channel = self.broker.channel()
        channel.basic_publish("amq.topic", routing_key, raw, pika.BasicProperties(
            content_type="application/json", delivery_mode=2, **props))
        channel.close()
        return props["message_id"]

    def publish_fixture(self, name: str, **props: Any) -> str:
        message = fixture(name)
        return self.publish(self.topic(message["topic"]), message["body"], **props)

    def dead_letters(self) -> list[tuple[pika.BasicProperties, bytes]]:
        channel = self.broker.channel()
        letters = []
        while True:
            method, properties, body = channel.basic_get(self.dead_letter_queue,
                                                         auto_ack=True)
            if method is None:
                break
            letters.append((properties, body))
        channel.close()
        return letters

    async def dead_letters_until(self, count: int) -> list[tuple[pika.BasicProperties, bytes]]:
        got: list[tuple[pika.BasicProperties, bytes]] = []

        def enough() -> bool:
            got.extend(self.dead_letters())
            return len(got) >= count

        await self.until(enough, f"{count} dead letter(s)")
        return got

    def queue_depth(self, queue: str) -> int:
        channel = self.broker.channel()
        depth = channel.queue_declare(queue, passive=True).method.message_count
        channel.close()
        return depth

    def consumers(self) -> int:
        if self.task is not None and self.task.done():
            self.task.result()  # a consumer that died says why
        channel = self.broker.channel()
        try:
            return channel.queue_declare(self.settings.consumer_queue,
                                         passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            if channel.is_open:
                channel.close()

    async def until(self, condition: Callable[[], Any], what: str) -> Any:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            await asyncio.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}")

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=TIMEOUT)
        channel = self.broker.channel()
        channel.queue_delete(self.settings.consumer_queue)
        channel.queue_delete(self.dead_letter_queue)
        channel.close()


@pytest.fixture
async def harness(pg_url: str, broker: pika.BlockingConnection) -> AsyncIterator[Harness]:
    unique = uuid.uuid4().hex[:10]
    settings = Settings(
        database_url=pg_url, amqp_url=AMQP_URL, topic_prefix=f"t{unique}.cts.",
        consumer_queue=f"ctsd-test-{unique}",
        pungi_topics=(f"t{unique}.pungi.compose.status.change",),
        odcs_topics=(f"t{unique}.odcs.compose.state-changed",),
        translate_paths=(("/mnt/redhat", "http://download.lab.bos.redhat.com"),),
        allowed_builders=Principals(users=frozenset({BROKER_USER, "pungi", "odcs"})),
    )
    test_harness = Harness(settings, broker)
    yield test_harness
    await test_harness.close()


@asynccontextmanager
async def command_bus_for(settings: Settings) -> AsyncIterator[CommandBus]:
    """A command bus on the test's database, for setting the scene directly."""
    engine = create_async_engine(settings)
    try:
        yield CommandBus(engine, Roles(), settings.topic_prefix)
    finally:
        await engine.dispose()


async def seed(settings: Settings, *compose_ids: str, tag: str | None = None) -> None:
    async with command_bus_for(settings) as bus:
        for compose_id in compose_ids:
            await bus.execute(ImportCompose(compose_info(compose_id)), ANONYMOUS)
        if tag:
            await bus.execute(CreateTag(tag, "a tag", "https://docs"), ANONYMOUS)
            for action in ("add_tagger", "add_untagger"):
                await bus.execute(ChangeTagPermission(tag, action, BROKER_USER), ANONYMOUS)


def query(url: str, statement: Any) -> list[Any]:
    engine = create_engine(Settings(database_url=url).sync_database_url)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    engine.dispose()
    return rows


def compose_row(url: str, compose_id: str) -> Any:
    return query(url, select(composes).where(composes.c.compose_id == compose_id))[0]


def history(url: str, compose_id: str) -> list[str]:
    rows = query(url, select(compose_changes.c.action).join(composes)
                 .where(composes.c.compose_id == compose_id).order_by(compose_changes.c.id))
    return [row.action for row in rows]


def events(url: str) -> list[Any]:
    return query(url, select(outbox).order_by(outbox.c.id))
