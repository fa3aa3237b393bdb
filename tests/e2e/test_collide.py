"""The compose-ID promise under a real race: two `ctsd serve` processes, one database.

Like ctsbench's `collide` scenario: many clients import the same release, date and type,
all asking for respin 1, at the same moment. Every one must succeed with its own respin,
and together the respins must be 1..N without a gap.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import pytest

from tests.conftest import compose_info
from tests.e2e.conftest import Server, query

pytestmark = pytest.mark.e2e

COLLISIONS = 200
DATE = "20250101"
# A smoke bound only: a serialised or retry-storming allocator would blow well past it.
# Speed is the benchmarks' business (shared/bench/ctsbench.py).
SMOKE_BOUND_SECONDS = 30.0


async def import_at_once(http: aiohttp.ClientSession, urls: list[str],
                         body: dict[str, Any]) -> tuple[list[tuple[int, Any]], float]:
    """POST `body` once to each URL, all released together; answers and wall time."""
    go = asyncio.Event()

    async def one(url: str) -> tuple[int, Any]:
        await go.wait()
        async with http.post(url, json=body) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    tasks = [asyncio.create_task(one(url)) for url in urls]
    await asyncio.sleep(0.1)  # let every task reach the starting line
    started = time.perf_counter()
    go.set()
    answers = await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    return answers, time.perf_counter() - started


def assert_gap_free(answers: list[tuple[int, Any]], short: str, count: int,
                    servers: list[Server]) -> None:
    """All `count` imports succeeded with ids {short}-1.0-{DATE}.1 .. .count."""
    failures = [(status, body) for status, body in answers if status != 200]
    logs = "\n".join(server.stderr()[-3000:] for server in servers)
    assert failures == [], f"{len(failures)} of {count} failed, e.g. {failures[:3]}\n{logs}"
    composes = [body["payload"]["compose"] for _, body in answers]
    ids = [compose["id"] for compose in composes]
    respins = sorted(compose["respin"] for compose in composes)
    assert len(set(ids)) == count
    assert respins == list(range(1, count + 1))
    for compose in composes:
        assert compose["id"] == f"{short}-1.0-{DATE}.{compose['respin']}"


async def test_concurrent_imports_over_two_processes_get_gap_free_respins(
        http, ctsd_pair: list[Server], e2e_database_url: str) -> None:
    short = f"col{uuid.uuid4().hex[:8]}"
    body = {"compose_info": compose_info(short=short, date=DATE, respin=1,
                                         id=f"{short}-1.0-{DATE}.1"),
            "parent_compose_ids": None, "respin_of": None}
    urls = [f"{ctsd_pair[i % 2].base_url}/api/1/composes/" for i in range(COLLISIONS)]

    answers, seconds = await import_at_once(http, urls, body)
    print(f"\n{COLLISIONS} colliding imports over 2 processes: {seconds:.2f} s "
          f"({COLLISIONS / seconds:.0f}/s)")

    assert_gap_free(answers, short, COLLISIONS, ctsd_pair)
    assert seconds < SMOKE_BOUND_SECONDS
    # What was stored agrees with what was answered: one row, one history entry and
    # one message per compose, and the counter stopped at the last respin.
    stored = query(e2e_database_url,
                   "SELECT respin FROM composes WHERE release_short = :s ORDER BY respin",
                   s=short)
    assert [row.respin for row in stored] == list(range(1, COLLISIONS + 1))
    (counts,) = query(e2e_database_url, """
        SELECT (SELECT count(*) FROM compose_changes ch JOIN composes c ON c.pk = ch.compose_pk
                 WHERE c.release_short = :s AND ch.action = 'created') AS created,
               (SELECT count(*) FROM outbox
                 WHERE topic = 'cts.compose-created' AND ordering_key LIKE :prefix) AS messages,
               (SELECT max(last_respin) FROM respin_counters
                 WHERE stream LIKE :short_prefix) AS counter
    """, s=short, prefix=f"{short}-%", short_prefix=f"{short}%")
    assert (counts.created, counts.messages, counts.counter) == (COLLISIONS, COLLISIONS,
                                                                 COLLISIONS)
    for server in ctsd_pair:
        assert "Traceback" not in server.stderr(), server.stderr()[-5000:]
