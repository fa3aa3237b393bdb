"""/api/1/metrics/ of `ctsd serve --workers 2` under load: every scrape, whichever
worker answers it, counts the requests of both workers, and shows both workers'
process metrics."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from tests.e2e.conftest import ServerFactory

REQUESTS = 300
ABOUT = 'cts_http_requests_total{method="GET",route="/api/1/about/",status="200"}'
ABOUT_LATENCY = 'cts_http_request_duration_seconds_count{method="GET",route="/api/1/about/"}'


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the scrape:\n{text}")


async def scrape(base_url: str) -> str:
    # A new connection each time, so the kernel may hand it to either worker.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session, session.get(
            f"{base_url}/api/1/metrics/") as response:
        assert response.status == 200
        return await response.text()


async def test_two_workers_scrapes_add_up_under_load(start_ctsd: ServerFactory,
                                                      e2e_database_url: str):
    [server] = start_ctsd(CTSD_DATABASE_URL=e2e_database_url, CTSD_HTTP_WORKERS="2")
    before = [sample(await scrape(server.base_url), ABOUT) for _ in range(4)]
    assert len(set(before)) == 1, before  # no scrape sees only one worker
    # Load: many concurrent short connections, spread over both workers.
    connector = aiohttp.TCPConnector(force_close=True, limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def about() -> int:
            async with session.get(f"{server.base_url}/api/1/about/") as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(about() for _ in range(REQUESTS)))
    assert statuses == [200] * REQUESTS
    scrapes = [await scrape(server.base_url) for _ in range(8)]
    print("\n".join(line for line in scrapes[-1].splitlines()
                    if re.match(r"(cts_http_requests_total\{method=\"GET\",route=\"/api/1/"
                                r"about/|cts_http_workers|process_resident_memory_bytes|"
                                r"process_cpu_seconds_total|cts_outbox_)", line)))
    assert [sample(text, ABOUT) for text in scrapes] == [before[0] + REQUESTS] * 8
    assert [sample(text, ABOUT_LATENCY) for text in scrapes] == [before[0] + REQUESTS] * 8
    last = scrapes[-1]
    assert sample(last, "cts_http_workers") == 2
    pids = set(re.findall(r'process_resident_memory_bytes\{pid="(\d+)"\}', last))
    assert len(pids) == 2, last
    assert sample(last, "cts_outbox_backlog") == 0
