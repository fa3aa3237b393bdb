"""The relay's batch logic with an in-memory outbox and broker: order, retries, bad rows."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

import pytest

from ctsd.relay.amqp import BrokerError
from ctsd.relay.runner import OutboxRelay
from ctsd.relay.store import Claim
from ctsd.relay.wire import Envelope, OutboxRow
from tests.examples import published_example as example


class MemoryOutbox:
    def __init__(self, rows: list[OutboxRow]) -> None:
        self.rows = rows
        self.sent: list[int] = []
        self.errors: dict[int, str] = {}

    @asynccontextmanager
    async def claim(self, limit: int, skip: Collection[int] = ()) -> AsyncIterator[Claim]:
        unsent = [row for row in self.rows if row.id not in self.sent]
        batch = [row for row in unsent if row.id not in skip][:limit]
        claim = Claim(self._in_turn(unsent, batch), claimed=len(batch))
        try:
            yield claim
        finally:
            self.sent += claim.sent_ids
            self.errors.update(claim.failures)

    @staticmethod
    def _in_turn(unsent: list[OutboxRow], batch: list[OutboxRow]) -> list[OutboxRow]:
        # The store's rule: an older unsent row outside the batch holds its compose back.
        ids = {row.id for row in batch}
        first_outside: dict[str | None, int] = {}
        for row in unsent:
            if row.id not in ids:
                first_outside.setdefault(row.ordering_key, row.id)
        return [row for row in batch if row.id < first_outside.get(row.ordering_key, row.id + 1)]


class MemoryBroker:
    def __init__(self, fail_at: int | None = None, routed: bool = True) -> None:
        self.published: list[Envelope] = []
        self.batches: list[int] = []
        self.fail_at = fail_at
        self.routed = routed

    async def publish_batch(self, envelopes: list[Envelope]) -> list[bool | BrokerError]:
        """Like a connection that breaks at the fail_at-th message: that one and every
        later one of the batch fail."""
        self.batches.append(len(envelopes))
        results: list[bool | BrokerError] = []
        for envelope in envelopes:
            if self.fail_at is not None and len(self.published) >= self.fail_at:
                results.append(BrokerError("connection reset"))
                continue
            self.published.append(envelope)
            results.append(self.routed)
        return results

    def ids(self) -> list[str]:
        return [e.properties.message_id for e in self.published]


def body_for(compose_id: str, event: str = "compose-tagged") -> dict[str, Any]:
    body = copy.deepcopy(example(event))
    body["compose"]["compose_info"]["payload"]["compose"]["id"] = compose_id
    return body


def make_rows(*keys: str) -> list[OutboxRow]:
    return [OutboxRow(id=i, message_id=str(uuid.uuid4()), topic="cts.compose-tagged",
                      body=body_for(key), ordering_key=key)
            for i, key in enumerate(keys, start=1)]


def relay(outbox: MemoryOutbox, broker: MemoryBroker, batch_size: int = 100) -> OutboxRelay:
    return OutboxRelay(outbox, broker, wakeup=None, batch_size=batch_size)  # type: ignore[arg-type]


def per_compose(envelopes: list[Envelope]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for envelope in envelopes:
        compose = envelope.message.body["compose"]["compose_info"]["payload"]["compose"]["id"]
        order.setdefault(compose, []).append(envelope.properties.message_id)
    return order


def ids_by_compose(rows: list[OutboxRow]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for row in rows:
        order.setdefault(row.ordering_key, []).append(row.message_id)
    return order


async def test_drain_publishes_everything_in_order_across_batches():
    rows = make_rows("A", "B", "A", "C", "A")
    outbox, broker = MemoryOutbox(rows), MemoryBroker()
    assert await relay(outbox, broker, batch_size=2).drain() == 5
    assert per_compose(broker.published) == ids_by_compose(rows)
    assert sorted(outbox.sent) == [1, 2, 3, 4, 5]


async def test_one_row_per_compose_is_in_flight_at_a_time():
    rows = make_rows("A", "A", "B", "C", "A", "B")
    outbox, broker = MemoryOutbox(rows), MemoryBroker()
    assert await relay(outbox, broker).drain() == 6
    # Rounds: the first of A, B, C together; then A and B; then A.
    assert broker.batches == [3, 2, 1]
    assert per_compose(broker.published) == ids_by_compose(rows)


async def test_broker_failure_keeps_confirmed_rows_and_retries_the_rest_with_same_ids():
    rows = make_rows("A", "A", "A", "B")
    outbox, broker = MemoryOutbox(rows), MemoryBroker(fail_at=2)
    with pytest.raises(BrokerError):
        await relay(outbox, broker).drain()
    # Round one (rows 1 and 4) was confirmed; round two (row 2) failed, and row 3
    # never went, as it waits for row 2.
    assert sorted(outbox.sent) == [1, 4]
    assert outbox.errors == {2: "connection reset"}

    broker.fail_at = None
    assert await relay(outbox, broker).drain() == 2
    assert per_compose(broker.published) == ids_by_compose(rows)


async def test_invalid_row_holds_back_its_compose_only():
    rows = make_rows("A", "B", "A", "B")
    del rows[0].body["compose"]
    outbox, broker = MemoryOutbox(rows), MemoryBroker()
    the_relay = relay(outbox, broker)
    assert await the_relay.drain() == 2
    assert outbox.sent == [2, 4]
    assert "invalid message" in outbox.errors[1]
    # Left out from now on (no error logged and recorded on every poll), and row 3
    # still waits behind it.
    outbox.errors.clear()
    assert await the_relay.drain() == 0
    assert outbox.errors == {}
    assert outbox.sent == [2, 4]


async def test_a_batch_full_of_invalid_rows_does_not_stall_the_rest():
    rows = make_rows("X", "Y", "Z", "W")
    for row in rows[:3]:
        del row.body["compose"]
    outbox, broker = MemoryOutbox(rows), MemoryBroker()
    assert await relay(outbox, broker, batch_size=2).drain() == 1
    assert outbox.sent == [4]
    assert sorted(outbox.errors) == [1, 2, 3]


async def test_unrouted_messages_count_as_sent():
    outbox, broker = MemoryOutbox(make_rows("A")), MemoryBroker(routed=False)
    assert await relay(outbox, broker).drain() == 1
    assert outbox.sent == [1]
