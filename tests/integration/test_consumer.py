"""The bus consumer against the real RabbitMQ and PostgreSQL of this machine.

Each test runs `run_consumer` on its own queue and its own topic names (so tests can
share the broker) and deletes both queues afterwards. Messages are real payloads from
tests/fixtures, published as their senders publish them.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import psycopg2
import pytest
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import OperationalError
from tenacity import wait_fixed

from ctsd.auth.settings import AuthSettings
from ctsd.config import Principals, Settings
from ctsd.consumer.runner import Consumer
from ctsd.db import migrate
from ctsd.db.tables import compose_tags, composes, processed_messages, tags
from ctsd.service import Outcome
from handlers.commands import ChangeTagPermission, CreateTag
from handlers.identity import ANONYMOUS
from tests.conftest import (
    PG_ADMIN_DSN,
    PG_URL_BASE,
    create_pg_database,
    drop_pg_database,
)
from tests.integration.consumer_harness import (
    BROKER_USER,
    FEDORA_ELN,
    ORACLE_JAVA,
    TIMEOUT,
    broker,
    command_bus_for,
    compose_row,
    events,
    harness,
    history,
    query,
    seed,
)

__all__ = ["broker", "harness"]  # fixtures this module uses

async def test_pungi_status_messages_set_build_status_and_compose_url(harness):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA)
    await harness.start()
    started = harness.publish_fixture("pungi_status_started_umb.json")
    finished = harness.publish_fixture("pungi_status_finished_umb.json")

    row = await harness.until(
        lambda: (r := compose_row(url, ORACLE_JAVA)).build_status == "FINISHED" and r,
        "the FINISHED status")
    assert row.compose_url == ("http://download.lab.bos.redhat.com/nightly/"
                               "OracleJava-7.4-RHEL-7-20170602.n.0")
    assert history(url, ORACLE_JAVA) == ["created", "build_status", "url_changed",
                                         "build_status"]
    changed = [e for e in events(url) if e.topic.endswith("compose-changed")]
    assert [e.in_reply_to for e in changed] == [started, finished]
    assert changed[-1].body["compose"]["build_status"] == "FINISHED"
    assert changed[-1].body["agent"] == "pungi"
    assert harness.dead_letters() == []


async def test_odcs_done_sets_url_and_removed_marks_removed_once(harness):
    url = harness.settings.database_url
    await seed(harness.settings, FEDORA_ELN)
    await harness.start()
    harness.publish_fixture("odcs_state_changed_done_fedora.json")
    harness.publish_fixture("odcs_state_changed_removed_fedora.json")
    harness.publish_fixture("odcs_state_changed_removed_fedora.json")  # new message id
    harness.publish_fixture("odcs_state_changed_done_no_pungi_id_umb.json")

    await harness.until(lambda: harness.queue_depth(harness.settings.consumer_queue) == 0
                        and len(query(url, select(processed_messages))) == 3,
                        "all four messages")
    row = compose_row(url, FEDORA_ELN)
    assert row.compose_url == "https://odcs.fedoraproject.org/composes/odcs-28282"
    assert row.removed_at is not None and row.removed_reason == "Compose is expired."
    assert history(url, FEDORA_ELN) == ["created", "url_changed", "removed"]
    removed = [e for e in events(url) if e.topic.endswith("compose-removed")]
    assert len(removed) == 1
    assert removed[0].body["compose"]["removed"] is True
    assert harness.dead_letters() == []


async def test_redelivered_request_has_one_effect(harness):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA, tag="nightly")
    await harness.start()
    request = {"compose_id": ORACLE_JAVA, "tag": "nightly", "user_data": "ticket-7"}
    tag_topic = harness.topic("request.tag")
    first = harness.publish(tag_topic, request, user_id=BROKER_USER)
    harness.publish(tag_topic, request, user_id=BROKER_USER, message_id=first)
    # Handled in order: once this one is in, both copies above have been handled.
    harness.publish(harness.topic("request.set_url"),
                          {"compose_id": ORACLE_JAVA, "compose_url": "https://example.com/c"},
                          user_id=BROKER_USER)
    await harness.until(lambda: compose_row(url, ORACLE_JAVA).compose_url, "the set_url")

    assert history(url, ORACLE_JAVA) == ["created", "tagged", "url_changed"]
    tagged = [e for e in events(url) if e.topic == harness.topic("compose-tagged")]
    assert len(tagged) == 1
    assert tagged[0].in_reply_to == first
    assert (tagged[0].body["agent"], tagged[0].body["user_data"]) == (BROKER_USER, "ticket-7")
    assert harness.dead_letters() == []


async def test_malformed_json_is_dead_lettered_and_the_next_message_processed(harness):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA)
    await harness.start()
    bad = harness.publish(harness.topic("pungi.compose.status.change"), b"{not json")
    harness.publish_fixture("pungi_status_finished_umb.json")

    await harness.until(lambda: compose_row(url, ORACLE_JAVA).build_status, "the good one")
    [(properties, body)] = await harness.dead_letters_until(1)
    assert body == b"{not json"
    assert properties.message_id == bad
    assert properties.headers["x-cts-error-reason"] == "invalid json"
    assert properties.headers["x-cts-error-status"] == 400
    assert "not JSON" in properties.headers["x-cts-error"]
    assert properties.headers["x-cts-original-routing-key"] == harness.topic(
        "pungi.compose.status.change")
    assert harness.queue_depth(harness.settings.consumer_queue) == 0


async def test_refused_requests_are_dead_lettered_with_the_reason(harness):
    url = harness.settings.database_url
    harness.settings = replace(harness.settings, allowed_builders=Principals())
    await seed(harness.settings, ORACLE_JAVA)
    await harness.start()
    request = {"compose_id": ORACLE_JAVA, "compose_url": "https://example.com/c"}
    harness.publish(harness.topic("request.set_url"), request, user_id=BROKER_USER)
    harness.publish(harness.topic("request.set_url"), request)  # no user_id

    letters = await harness.dead_letters_until(2)
    headers = [props.headers for props, _ in letters]
    assert [(h["x-cts-error-status"], h["x-cts-error-reason"]) for h in headers] == [
        (403, "forbidden"), (401, "no authenticated sender")]
    assert headers[0]["x-cts-original-user-id"] == BROKER_USER
    assert "not allowed" in headers[0]["x-cts-error"]
    assert compose_row(url, ORACLE_JAVA).compose_url is None
    assert [e.topic for e in events(url)] == [harness.topic("compose-created")]


async def test_message_for_unknown_compose_is_dead_lettered(harness):
    await harness.start()
    harness.publish_fixture("pungi_status_finished_umb.json")
    [(properties, _)] = await harness.dead_letters_until(1)
    assert properties.headers["x-cts-error-reason"] == "unknown compose"
    assert properties.headers["x-cts-error-status"] == 404
    assert properties.headers["x-cts-error"] == "No such compose found."


async def test_message_waits_unacked_while_the_database_is_missing(harness, caplog):
    # A database that does not exist yet is refused by the real PostgreSQL server just as
    # a stopped one is; the message must wait for it rather than be dead-lettered.
    target = f"cts_test_{uuid.uuid4().hex[:12]}"
    harness.settings = replace(harness.settings, database_url=f"{PG_URL_BASE}/{target}")
    await harness.start()
    harness.publish_fixture("pungi_status_finished_umb.json")
    await harness.until(lambda: "database unavailable" in caplog.text, "a failed attempt")
    assert harness.queue_depth(harness.settings.consumer_queue) == 0  # held, unacked

    # Bring the database up complete, at once: built under another name, then renamed.
    ready = create_pg_database()
    ready_settings = Settings(database_url=f"{PG_URL_BASE}/{ready}")
    migrate.upgrade(ready_settings)
    await seed(ready_settings, ORACLE_JAVA)
    rename_pg_database(ready, target)
    try:
        await harness.until(lambda: compose_row(harness.settings.database_url,
                                                ORACLE_JAVA).build_status, "the retry")
        assert harness.dead_letters() == []
    finally:
        harness.stop.set()
        await asyncio.wait_for(harness.task, timeout=TIMEOUT)  # type: ignore[arg-type]
        drop_pg_database(target)


def rename_pg_database(old: str, new: str) -> None:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{old}" RENAME TO "{new}"')
    conn.close()


async def test_consumer_starts_over_when_its_queue_is_deleted(harness, caplog):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA)
    await harness.start()
    channel = harness.broker.channel()
    channel.queue_delete(harness.settings.consumer_queue)
    channel.close()
    await harness.until(lambda: "cancelled the consumer" in caplog.text, "the cancel")
    await harness.until(lambda: harness.consumers() > 0, "the new subscription")
    harness.publish_fixture("pungi_status_finished_umb.json")
    await harness.until(lambda: compose_row(url, ORACLE_JAVA).build_status, "the message")


class FlakyBus:
    """A command bus whose database is down for the first `outages` attempts."""

    def __init__(self, outages: int) -> None:
        self.outages = outages
        self.calls: list[str | None] = []

    async def execute(self, command: Any, actor: Any, **kwargs: Any) -> Outcome:
        self.calls.append(kwargs.get("message_id"))
        if len(self.calls) <= self.outages:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("db down"))
        return Outcome({})


async def test_database_outage_is_retried_in_place_then_acked(harness):
    bus = FlakyBus(outages=3)
    consumer = Consumer(harness.settings, bus, outage_wait=wait_fixed(0.05))  # type: ignore[arg-type]
    await harness.start(lambda: consumer.run(harness.stop))
    message_id = harness.publish_fixture("pungi_status_finished_umb.json")
    await harness.until(lambda: len(bus.calls) == 4, "the fourth attempt")
    await harness.until(lambda: harness.queue_depth(harness.settings.consumer_queue) == 0,
                        "the ack")
    assert bus.calls == [message_id] * 4  # retried here, never requeued to spin
    assert harness.dead_letters() == []


async def test_stopping_during_an_outage_leaves_the_message_queued(harness):
    bus = FlakyBus(outages=10**6)
    consumer = Consumer(harness.settings, bus, outage_wait=wait_fixed(0.05))  # type: ignore[arg-type]
    await harness.start(lambda: consumer.run(harness.stop))
    harness.publish_fixture("pungi_status_finished_umb.json")
    await harness.until(lambda: len(bus.calls) >= 2, "a retry")
    harness.stop.set()
    await asyncio.wait_for(harness.task, timeout=TIMEOUT)  # type: ignore[arg-type]
    assert harness.queue_depth(harness.settings.consumer_queue) == 1
    assert harness.dead_letters() == []


# The consumer's columns come with migration 0002; its downgrade must give them back.
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_migration_0002_upgrades_and_downgrades(backend, request, tmp_path):
    if backend == "postgresql":
        url = request.getfixturevalue("pg_database_url")
    else:
        url = f"sqlite:///{tmp_path / 'cts.sqlite'}"
    settings = Settings(database_url=url)
    lifecycle = {"build_status", "removed_at", "removed_reason"}

    def columns() -> set[str]:
        engine = create_engine(settings.sync_database_url)
        names = {column["name"] for column in inspect(engine).get_columns("composes")}
        engine.dispose()
        return names

    migrate.upgrade(settings, "0001")
    assert not lifecycle & columns()
    migrate.upgrade(settings, "0002")
    assert lifecycle <= columns()
    migrate.downgrade(settings, "0001")
    assert not lifecycle & columns()
    migrate.upgrade(settings)
    assert lifecycle <= columns()


async def test_a_senders_groups_give_it_tag_permissions(harness):
    # Only the group "qe" may tag; the broker user is in it through [auth.groups].
    url = harness.settings.database_url
    harness.settings = replace(harness.settings, auth=AuthSettings(
        static_groups=((BROKER_USER, frozenset({"qe"})),)))
    await seed(harness.settings, ORACLE_JAVA)
    async with command_bus_for(harness.settings) as bus:
        await bus.execute(CreateTag("qa-passed", "QE passed", "https://docs"), ANONYMOUS)
        await bus.execute(ChangeTagPermission("qa-passed", "add_tagger", group="qe"),
                          ANONYMOUS)
    await harness.start()
    harness.publish(harness.topic("request.tag"), {"compose_id": ORACLE_JAVA,
                                                   "tag": "qa-passed"}, user_id=BROKER_USER)
    await harness.until(lambda: history(url, ORACLE_JAVA) == ["created", "tagged"],
                        "the tag")
    assert harness.dead_letters() == []


async def test_promotion_requested_and_performed_over_the_bus(harness):
    url = harness.settings.database_url
    harness.settings = replace(harness.settings,
                               admins=Principals(users=frozenset({BROKER_USER})))
    await seed(harness.settings, ORACLE_JAVA)
    await harness.start()
    request = harness.publish(harness.topic("request.promotion"),
                              {"compose_id": ORACLE_JAVA, "to": "nightly",
                               "reason": "best periodic of the day"}, user_id=BROKER_USER)

    def answers(message_id: str) -> dict[str, Any]:
        return {e.topic.removeprefix(harness.settings.topic_prefix): e.body
                for e in events(url) if e.in_reply_to == message_id}

    requested = await harness.until(lambda: answers(request), "the promotion request")
    # The v1 view (the nightly-requested tag) and the promotion message answer it.
    assert set(requested) == {"compose-tagged", "compose-promotion-requested"}
    promotion = requested["compose-promotion-requested"]["promotion"]
    assert (promotion["to"], promotion["state"]) == ("nightly", "requested")

    perform = harness.publish(harness.topic("request.promotion_decision"),
                              {"promotion_id": promotion["id"], "decision": "perform"},
                              user_id=BROKER_USER)
    performed = await harness.until(lambda: answers(perform), "the promotion")
    assert performed["compose-promoted"]["promotion"]["state"] == "performed"
    assert compose_row_tags(url, ORACLE_JAVA) == ["nightly"]
    assert harness.dead_letters() == []


def compose_row_tags(url: str, compose_id: str) -> list[str]:
    rows = query(url, select(tags.c.name).join(compose_tags, compose_tags.c.tag_id == tags.c.id)
                 .join(composes, composes.c.pk == compose_tags.c.compose_pk)
                 .where(composes.c.compose_id == compose_id))
    return [row.name for row in rows]
