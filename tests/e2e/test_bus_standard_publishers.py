"""Requests published with the real `fedora_messaging.api.publish` (no user_id): the
sender is named by the topic, `<prefix>request.<action>.<user>`, and the broker's
topic permissions make sure only <user> can publish there (RabbitMQ expands
`{username}` in the write regex). On a node of the test's own, with logins alice
(a builder) and mallory (nobody), and `[consumer] sender_from_topic = true`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import compose_info
from tests.e2e.broker import BROKER_USER, PrivateBroker
from tests.e2e.bus import BusNames, Consumers, Publisher, dead_letters, write_config
from tests.e2e.conftest import query
from tests.e2e.test_bus_resilience import eventually

pytestmark = pytest.mark.e2e

PASSWORDS = {"alice": "alice-test-password", "mallory": "mallory-test-password"}


@pytest.fixture(scope="module")
def names() -> BusNames:
    return BusNames.new()


@pytest.fixture(scope="module")
def broker(names: BusNames) -> Iterator[PrivateBroker]:
    node = PrivateBroker.start()
    try:
        own_topics = "^" + re.escape(names.prefix) + r"request\.[a-z_]+\.{username}$"
        for login, password in PASSWORDS.items():
            node.add_user(login, password, topic_write=own_topics)
        yield node
    finally:
        node.shutdown()


def fm_publish(tmp_path: Path, broker: PrivateBroker, login: str, topic: str,
               body: dict[str, Any]) -> dict[str, str]:
    """Publish as `login` with fedora-messaging in its own process; its answer."""
    config = tmp_path / f"fedora-messaging-{login}.toml"
    config.write_text(f'amqp_url = "amqp://{login}:{PASSWORDS[login]}@127.0.0.1:'
                      f'{broker.port}/%2F"\npublish_exchange = "amq.topic"\n'
                      'topic_prefix = ""\n[client_properties]\napp = "ctsd e2e test"\n')
    result = subprocess.run([sys.executable, "-m", "tests.e2e.fm_publish", topic,
                             json.dumps(body)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "FEDORA_MESSAGING_CONF": str(config)},
                            cwd=Path(__file__).parents[2], check=False)
    lines = result.stdout.strip().splitlines()
    assert lines, f"fedora-messaging publisher said nothing:\n{result.stderr}"
    return json.loads(lines[-1])


def processed(pg_url: str) -> set[str]:
    return {row[0] for row in query(pg_url, "SELECT message_id FROM processed_messages")}


async def test_standard_publishers_are_named_by_broker_enforced_topics(
        broker: PrivateBroker, names: BusNames, pg_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "ctsd.toml", names, builders=["alice", BROKER_USER],
                          consumer_lines=["sender_from_topic = true"])
    consumers = Consumers(tmp_path, names, broker.url, CTSD_DATABASE_URL=pg_url,
                          CTSD_CONFIG=str(config))
    try:
        consumers.start()
        by_alice = fm_publish(tmp_path, broker, "alice", names.request("import") + ".alice",
                              {"compose_info": compose_info(short="byalice")})
        by_mallory = fm_publish(tmp_path, broker, "mallory",
                                names.request("import") + ".mallory",
                                {"compose_info": compose_info(short="bymallory")})
        forged = fm_publish(tmp_path, broker, "mallory", names.request("import") + ".alice",
                            {"compose_info": compose_info(short="forged")})
        # The validated user_id path still works beside it (and comes last in the queue).
        publisher = Publisher(broker.url)
        with_user_id = publisher.publish(names.request("import"),
                                         {"compose_info": compose_info(short="byuserid")})
        publisher.close()

        assert "error" not in by_alice and "error" not in by_mallory
        # The broker itself refused mallory's message on alice's topic.
        assert "PublishForbidden" in forged.get("error", ""), forged
        await eventually(lambda: {by_alice["id"], by_mallory["id"], with_user_id}
                         <= processed(pg_url) | {by_mallory["id"]}, "the requests")
        letters: list[Any] = []
        await eventually(lambda: letters.extend(dead_letters(broker.url, names)) or letters,
                         "mallory's dead letter")
    finally:
        consumers.stop_all()
    creators = dict(query(pg_url, "SELECT c.release_short, h.\"user\" FROM composes c JOIN "
                          "compose_changes h ON h.compose_pk = c.pk WHERE h.action = 'created'"))
    assert creators == {"byalice": "alice", "byuserid": BROKER_USER}
    [(properties, _body)] = letters
    assert properties.message_id == by_mallory["id"]
    assert properties.headers["x-cts-error-status"] == 403
    assert properties.headers["x-cts-error-reason"] == "forbidden"
    assert forged["id"] not in processed(pg_url)
