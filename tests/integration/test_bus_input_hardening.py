"""Issue #15 over the bus: the inputs that answer 4xx over HTTP are dead-lettered with a
400-class status and reason, without driver or SQL text, and change no table."""

from __future__ import annotations

import pytest

from tests.integration.consumer_harness import (
    BROKER_USER,
    ORACLE_JAVA,
    broker,
    harness,
    seed,
)
from tests.integration.test_input_hardening import every_table_count

__all__ = ["broker", "harness"]  # fixtures this module uses

BAD_REQUESTS = [
    ("request.tag", {"compose_id": ORACLE_JAVA, "tag": "2147483648"}),
    ("request.tag", {"compose_id": ORACLE_JAVA, "tag": "\u00b2"}),
    ("request.tag", {"compose_id": ORACLE_JAVA, "tag": "999999999999999999999999999999"}),
    ("request.tag", {"compose_id": ORACLE_JAVA, "tag": "nightly", "user_data": "\ud800"}),
    ("request.promotion_decision", {"promotion_id": 2**31, "decision": "perform"}),
    ("request.promotion_decision", {"promotion_id": 10**30, "decision": "reject"}),
    ("request.mark_removed", {"compose_id": ORACLE_JAVA, "reason": "x\ud800"}),
]


@pytest.mark.parametrize(("topic", "body"), BAD_REQUESTS)
async def test_bad_values_are_dead_lettered_as_4xx(harness, topic, body):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA, tag="nightly")
    before = every_table_count(url)
    await harness.start()
    harness.publish(harness.topic(topic), body, user_id=BROKER_USER)
    [(properties, _)] = await harness.dead_letters_until(1)
    headers = properties.headers
    assert 400 <= headers["x-cts-error-status"] < 500, headers
    assert headers["x-cts-error-reason"] != "internal error"
    for leak in ("sqlalchemy", "asyncpg", "SELECT", "[SQL", "Error:"):
        assert leak not in headers["x-cts-error"], headers["x-cts-error"]
    assert every_table_count(url) == before


async def test_deep_body_is_dead_lettered_as_400(harness):
    await harness.start()
    body = ('{"compose_id": ' + "[" * 600 + "]" * 600 + "}").encode()
    harness.publish(harness.topic("request.tag"), body, user_id=BROKER_USER)
    [(properties, _)] = await harness.dead_letters_until(1)
    assert properties.headers["x-cts-error-status"] == 400
    assert "nested" in properties.headers["x-cts-error"]
