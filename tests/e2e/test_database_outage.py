"""Issue #15: a PostgreSQL stop under load. While the database is down every answer is a
503 JSON error with Retry-After (never a 500); once it is back the service serves again
by itself, and every write it acknowledged is stored. The cluster is the test's own."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import compose_info, read_database
from tests.e2e.conftest import Server, ServerFactory
from tests.e2e.own_postgres import OwnPostgres

OUTAGE_SECONDS = 4.0
WORKERS = 6


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    cluster = OwnPostgres()
    cluster.init()
    try:
        yield cluster
    finally:
        cluster.destroy()


class Load:
    """Workers that import composes (each its own release) and read lists, recording
    every status and every acknowledged import."""

    def __init__(self, http: aiohttp.ClientSession, server: Server) -> None:
        self.http, self.base = http, server.base_url
        self.statuses: Counter[int] = Counter()
        self.bad_answers: list[str] = []
        self.acknowledged: list[str] = []
        self.stopping = False

    async def run(self) -> None:
        await asyncio.gather(*(self._worker(n) for n in range(WORKERS)))

    async def _worker(self, n: int) -> None:
        count = 0
        while not self.stopping:
            short = f"o{n}x{count}{uuid.uuid4().hex[:6]}"
            count += 1
            if count % 2:
                await self._call("POST", "/api/1/composes/",
                                 {"compose_info": compose_info(short=short)})
            else:
                await self._call("GET", "/api/1/composes/?per_page=5", None)
            await asyncio.sleep(0.01)

    async def _call(self, method: str, path: str, body: Any) -> None:
        async with self.http.request(method, self.base + path, json=body) as reply:
            text = await reply.text()
            self.statuses[reply.status] += 1
            if reply.status == 200:
                if method == "POST":
                    self.acknowledged.append(json.loads(text)["payload"]["compose"]["id"])
                return
            if (reply.status != 503 or reply.content_type != "application/json"
                    or json.loads(text).get("status") != 503
                    or "Retry-After" not in reply.headers):
                self.bad_answers.append(f"{reply.status} {reply.content_type} {text[:200]}")


async def test_database_stop_under_load_gives_only_503_and_loses_nothing(
        start_ctsd: ServerFactory, own_postgres: OwnPostgres, http: aiohttp.ClientSession):
    [server] = start_ctsd(CTSD_DATABASE_URL=own_postgres.url)
    load = Load(http, server)
    running = asyncio.ensure_future(load.run())
    await asyncio.sleep(1.5)
    before_outage = load.statuses[200]
    await asyncio.to_thread(own_postgres.stop)
    down_at = time.monotonic()
    await asyncio.sleep(OUTAGE_SECONDS)
    during = Counter(load.statuses)
    await asyncio.to_thread(own_postgres.start)
    back_at = time.monotonic()
    # Served again by itself: 200s come back without restarting ctsd.
    while load.statuses[200] <= during[200] + 20 and time.monotonic() - back_at < 30:
        await asyncio.sleep(0.1)
    load.stopping = True
    await running

    assert before_outage > 0
    assert during[503] > 0, load.statuses  # the outage was seen
    assert load.statuses[200] > during[200] + 20, "no recovery after the database came back"
    assert load.bad_answers == [], load.bad_answers[:5]
    assert set(load.statuses) <= {200, 503}, load.statuses
    stored = {row.compose_id for row in read_database(
        own_postgres.url, "SELECT compose_id FROM composes")}
    lost = [cid for cid in load.acknowledged if cid not in stored]
    assert lost == [], lost
    assert "Traceback" not in server.stderr()
    # One line per 10 s window and one count, not one line per 503 (~800 before).
    outage_lines = [line for line in server.stderr().splitlines()
                    if "database unavailable" in line]
    assert 1 <= len(outage_lines) <= 6 < load.statuses[503], outage_lines
    print(f"statuses {dict(load.statuses)}; outage {back_at - down_at:.1f} s; "
          f"{len(load.acknowledged)} imports acknowledged, all stored")
