"""Batches: waiting messages are applied together in one transaction, acknowledged after
its commit; a batch with a message that cannot be applied falls back to one message per
transaction, so only that message is dead-lettered and nothing is applied twice.

PostgreSQL stamps every row with the id of the transaction that wrote it (`xmin`), which
shows how many transactions the consumer used.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import column, select

from ctsd.config import Settings
from ctsd.db.engine import create_engine as create_async_engine
from ctsd.db.tables import compose_changes, processed_messages
from ctsd.db.uow import SqlUnitOfWork
from ctsd.service import BusCommand, CommandBus
from handlers.commands import TagCompose
from handlers.errors import NotFound
from handlers.identity import Actor, Roles
from tests.integration.consumer_harness import (
    BROKER_USER,
    FEDORA_ELN,
    ORACLE_JAVA,
    broker,
    compose_row,
    events,
    harness,
    history,
    query,
    seed,
)
from tests.relaying import logged_statements

__all__ = ["broker", "harness"]  # fixtures used below

TAG = "nightly"


def publish_tag_requests(harness, compose_id: str, count: int, first: int = 0) -> list[str]:
    """Alternate tag and untag of one compose: every request is a real change."""
    ids = []
    for n in range(first, first + count):
        verb = "tag" if n % 2 == 0 else "untag"
        ids.append(harness.publish(harness.topic(f"request.{verb}"),
                                   {"compose_id": compose_id, "tag": TAG,
                                    "user_data": f"change-{n}"}, user_id=BROKER_USER))
    return ids


def change_transactions(url: str) -> set[int]:
    xmin = column("xmin")
    rows = query(url, select(xmin.label("xmin")).select_from(compose_changes)
                 .where(compose_changes.c.action.in_(["tagged", "untagged"])))
    return {int(row.xmin) for row in rows}


async def test_waiting_messages_are_applied_in_few_transactions_in_order(harness):
    url = harness.settings.database_url
    harness.settings = replace(harness.settings, consumer_prefetch=40, consumer_batch_size=20)
    await seed(harness.settings, ORACLE_JAVA, FEDORA_ELN, tag=TAG)
    await harness.subscribe_then_stop()
    ids = publish_tag_requests(harness, ORACLE_JAVA, 30)
    ids += publish_tag_requests(harness, FEDORA_ELN, 10)
    await harness.start()  # all 40 are waiting when the consumer subscribes

    await harness.until(lambda: len(query(url, select(processed_messages))) == 40,
                        "all 40 messages")
    await harness.until(lambda: harness.queue_depth(harness.settings.consumer_queue) == 0,
                        "the acknowledgements")
    assert history(url, ORACLE_JAVA) == ["created"] + ["tagged", "untagged"] * 15
    assert history(url, FEDORA_ELN) == ["created"] + ["tagged", "untagged"] * 5
    # 40 messages, batches of at most 20: at least 2 transactions, and far fewer than 40
    # (the first batch may be short if the consumer starts before all have arrived).
    assert 2 <= len(change_transactions(url)) <= 6
    changed = [e for e in events(url) if e.topic.endswith(("compose-tagged",
                                                            "compose-untagged"))]
    assert sorted(e.in_reply_to for e in changed) == sorted(ids)
    oracle = [e.body["user_data"] for e in changed if e.ordering_key == ORACLE_JAVA]
    assert oracle == [f"change-{n}" for n in range(30)]
    # Each command of a batch has its own time, in order.
    times = [e.created_at for e in changed if e.ordering_key == ORACLE_JAVA]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert harness.dead_letters() == []


async def test_a_refused_message_in_a_batch_is_dead_lettered_alone(harness):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA, tag=TAG)
    await harness.subscribe_then_stop()
    before = publish_tag_requests(harness, ORACLE_JAVA, 3)
    unknown = harness.publish(harness.topic("request.tag"),
                              {"compose_id": "Nope-1.0-20200101.0", "tag": TAG},
                              user_id=BROKER_USER)
    after = publish_tag_requests(harness, ORACLE_JAVA, 3, first=3)
    await harness.start()

    [(properties, _)] = await harness.dead_letters_until(1)
    assert properties.message_id == unknown
    assert properties.headers["x-cts-error-reason"] == "unknown compose"
    await harness.until(lambda: len(query(url, select(processed_messages))) == 6,
                        "the six good messages")
    # The good ones each applied once, in the order sent.
    assert history(url, ORACLE_JAVA) == ["created", "tagged", "untagged", "tagged",
                                         "untagged", "tagged", "untagged"]
    changed = [e.in_reply_to for e in events(url) if e.ordering_key == ORACLE_JAVA
               and e.topic.endswith(("compose-tagged", "compose-untagged"))]
    assert changed == before + after
    await harness.until(lambda: harness.queue_depth(harness.settings.consumer_queue) == 0,
                        "the acknowledgements")


async def test_the_same_message_twice_in_one_batch_has_one_effect(harness):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA, tag=TAG)
    await harness.subscribe_then_stop()
    request = {"compose_id": ORACLE_JAVA, "tag": TAG}
    first = harness.publish(harness.topic("request.tag"), request, user_id=BROKER_USER)
    harness.publish(harness.topic("request.tag"), request, user_id=BROKER_USER,
                    message_id=first)
    untag = harness.publish(harness.topic("request.untag"), request, user_id=BROKER_USER)
    await harness.start()

    await harness.until(lambda: harness.queue_depth(harness.settings.consumer_queue) == 0
                        and len(history(url, ORACLE_JAVA)) == 3, "the untag")
    assert history(url, ORACLE_JAVA) == ["created", "tagged", "untagged"]
    assert compose_row(url, ORACLE_JAVA) is not None
    replies = [e.in_reply_to for e in events(url) if e.ordering_key == ORACLE_JAVA
               and e.topic.endswith(("compose-tagged", "compose-untagged"))]
    assert replies == [first, untag]
    assert harness.dead_letters() == []


async def test_claiming_many_message_ids_returns_only_the_new_ones(database_url):
    engine = create_async_engine(Settings(database_url=database_url))
    try:
        async with SqlUnitOfWork(engine, "cts.") as uow:
            assert await uow.claim_messages(["a", "b", "a"]) == {"a", "b"}
            await uow.commit()
        async with SqlUnitOfWork(engine, "cts.") as uow:
            assert await uow.claim_messages(["b", "c", "a", "d"]) == {"c", "d"}
            # Not committed: rolled back on leaving the block.
        async with SqlUnitOfWork(engine, "cts.") as uow:
            assert await uow.claim_messages(["c"]) == {"c"}
    finally:
        await engine.dispose()


async def test_a_batch_locks_all_its_composes_in_one_statement(pg_url):
    settings = Settings(database_url=pg_url)
    await seed(settings, ORACLE_JAVA, FEDORA_ELN, tag=TAG)
    engine = create_async_engine(settings)
    statements = logged_statements(engine)
    try:
        bus = CommandBus(engine, Roles(), settings.topic_prefix)
        actor = Actor(BROKER_USER, backend="amqp")
        items = [BusCommand(TagCompose(compose_id, TAG), actor, f"m-{n}")
                 for n, compose_id in enumerate([ORACLE_JAVA, FEDORA_ELN, "Nope-1-20200101.0"])]
        with pytest.raises(NotFound):
            await bus.execute_batch(items)  # the unknown compose fails the batch...
        statements.clear()
        outcomes = await bus.execute_batch(items[:2])  # ...without it, it commits
    finally:
        await engine.dispose()
    assert [outcome.body["tags"] for outcome in outcomes] == [[TAG], [TAG]]
    assert sum("FOR UPDATE" in sql for sql in statements) == 1
    assert history(pg_url, ORACLE_JAVA) == history(pg_url, FEDORA_ELN) == ["created", "tagged"]
