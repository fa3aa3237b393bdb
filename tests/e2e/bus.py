"""`ctsd consume` as a real process, its configuration, and talking to it over the broker.

Every test names its own topics and queues (`BusNames`), so tests can share the
machine's broker; `BusNames.delete_queues` removes what the consumer declared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest

from tests.e2e.broker import BROKER_USER
from tests.e2e.conftest import STOP_TIMEOUT, server_environment, terminate
from tests.relaying import EXCHANGE

READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class BusNames:
    """One test's topic prefix, consumer queue and build-tool topics."""

    unique: str

    @classmethod
    def new(cls) -> BusNames:
        return cls(uuid.uuid4().hex[:10])

    @property
    def prefix(self) -> str:
        return f"t{self.unique}.cts."

    @property
    def queue(self) -> str:
        return f"ctsd-test-{self.unique}"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead-letter"

    @property
    def pungi_topic(self) -> str:
        return f"t{self.unique}.pungi.compose.status.change"

    @property
    def odcs_topic(self) -> str:
        return f"t{self.unique}.odcs.compose.state-changed"

    def request(self, action: str) -> str:
        return f"{self.prefix}request.{action}"

    def delete_queues(self, amqp_url: str) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.queue_delete(self.queue)
        channel.queue_delete(self.dead_letter_queue)
        connection.close()


def write_config(path: Path, names: BusNames, *, admins: Sequence[str] = (),
                 builders: Sequence[str] = (),
                 translate_paths: Sequence[tuple[str, str]] = (),
                 consumer_lines: Sequence[str] = ()) -> Path:
    """A ctsd.toml with these roles and the test's own build-tool topics (and
    `consumer_lines`, more TOML lines for [consumer]).

    JSON spells strings and lists of strings exactly as TOML does.
    """
    path.write_text("\n".join([
        "[auth]",
        f"admins = {{ users = {json.dumps(list(admins))} }}",
        f"allowed_builders = {{ users = {json.dumps(list(builders))} }}",
        "[consumer]",
        f"pungi_topics = {json.dumps([names.pungi_topic])}",
        f"odcs_topics = {json.dumps([names.odcs_topic])}",
        f"translate_paths = {json.dumps([list(pair) for pair in translate_paths])}",
        *consumer_lines,
        "",
    ]))
    return path


@dataclass
class ConsumerProcess:
    """One `ctsd consume` process; its output goes to a file in its directory."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no chance to finish the message in hand or to close the connection."""
        self.process.kill()
        self.process.wait(STOP_TIMEOUT)

    def stop(self) -> int:
        return terminate(self.process)


class Consumers:
    """Starts `ctsd consume` processes for one test and stops them all at its end."""

    def __init__(self, base: Path, names: BusNames, amqp_url: str, *,
                 ctsd_amqp_url: str = "", **ctsd_vars: str) -> None:
        """`amqp_url` is where the test watches the queue; `ctsd_amqp_url`, where the
        consumers connect if not there (e.g. the amqps:// listener of the same node)."""
        self._base = base
        self._names = names
        self._amqp_url = amqp_url
        self._env = server_environment(CTSD_AMQP_URL=ctsd_amqp_url or amqp_url,
                                       CTSD_TOPIC_PREFIX=names.prefix,
                                       CTSD_CONSUMER_QUEUE=names.queue, **ctsd_vars)
        self.started: list[ConsumerProcess] = []

    def start(self) -> ConsumerProcess:
        """Start one and wait until it consumes from its queue."""
        workdir = self._base / f"consumer-{len(self.started)}"
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir / "consume.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "ctsd.cli", "consume"],
                                       cwd=workdir, env=self._env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=log)
        consumer = ConsumerProcess(process, log_path)
        self.started.append(consumer)
        deadline = time.monotonic() + READY_TIMEOUT
        while consumer_count(self._amqp_url, self._names.queue) < 1:
            if process.poll() is not None:
                pytest.fail(f"ctsd consume exited with {process.returncode}:\n"
                            f"{consumer.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"ctsd consume did not subscribe within {READY_TIMEOUT} s:\n"
                            f"{consumer.output()}")
            time.sleep(0.1)
        return consumer

    def stop_all(self) -> None:
        for consumer in self.started:
            consumer.stop()


def consumer_count(amqp_url: str, queue: str) -> int:
    """Consumers subscribed to `queue`; 0 also while the queue does not exist yet."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        return channel.queue_declare(queue, passive=True).method.consumer_count
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        connection.close()


def queue_depth(amqp_url: str, queue: str) -> int:
    """Messages ready in `queue` (not those delivered and not yet acknowledged)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


class Publisher:
    """Publishes bus messages as a sender would: persistent JSON, with a message id and,
    for requests, the AMQP user_id of the connection's login."""

    def __init__(self, amqp_url: str) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()

    def publish(self, routing_key: str, body: bytes | dict[str, Any], *,
                message_id: str | None = None, user_id: str | None = BROKER_USER) -> str:
        message_id = message_id or str(uuid.uuid4())
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._channel.basic_publish(EXCHANGE, routing_key, raw, pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=message_id,
            user_id=user_id), mandatory=True)
        return message_id

    def close(self) -> None:
        self._connection.close()


def dead_letters(amqp_url: str, names: BusNames) -> list[tuple[pika.BasicProperties, bytes]]:
    """Take everything in the test's dead-letter queue."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    letters = []
    while True:
        method, properties, body = channel.basic_get(names.dead_letter_queue, auto_ack=True)
        if method is None:
            break
        letters.append((properties, body))
    connection.close()
    return letters
