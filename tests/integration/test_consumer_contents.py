"""A contents import requested over the bus (`cts.request.fetch_contents`) on the real
RabbitMQ and PostgreSQL: the consumer queues the durable fetch job in the message's
own transaction, which any `ctsd serve` then claims and imports through the same
command as `PUT .../rpms` (tests/integration/test_contents_fetch.py runs that part).
The files are never on the bus: only where to fetch them from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ctsd.db.contents_tables import contents_fetch_jobs
from ctsd.db.tables import composes
from tests.integration.consumer_harness import (
    BROKER_USER,
    FEDORA_ELN,
    ORACLE_JAVA,
    broker,
    harness,
    history,
    query,
    seed,
)

__all__ = ["broker", "harness"]  # fixtures this module uses


def fetch_job(url: str, compose_id: str) -> Any:
    rows = query(url, select(contents_fetch_jobs).join(composes)
                 .where(composes.c.compose_id == compose_id))
    return rows[0] if rows else None


async def test_a_fetch_request_queues_the_fetch_job_or_is_dead_lettered(harness):
    url = harness.settings.database_url
    await seed(harness.settings, ORACLE_JAVA, FEDORA_ELN)
    await harness.start()
    topic = harness.topic("request.fetch_contents")
    # FEDORA_ELN has no location and the request names none: it can never succeed.
    harness.publish(topic, {"compose_id": FEDORA_ELN}, user_id=BROKER_USER)
    harness.publish(topic, {"compose_id": ORACLE_JAVA, "compose_url": "https://example.com/c"},
                    user_id=BROKER_USER)

    job = await harness.until(lambda: fetch_job(url, ORACLE_JAVA), "the fetch job")
    assert (job.url, job.state, job.attempts) == ("https://example.com/c", "pending", 0)
    assert history(url, ORACLE_JAVA) == ["created", "contents_fetch_requested"]
    [(properties, _body)] = await harness.dead_letters_until(1)
    assert properties.headers["x-cts-error-status"] == 400
    assert "has no location" in properties.headers["x-cts-error"]
    assert fetch_job(url, FEDORA_ELN) is None
