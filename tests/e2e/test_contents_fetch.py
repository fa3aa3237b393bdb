"""End to end: a Pungi FINISHED message on the real broker makes `ctsd consume` record
the location, which queues the contents fetch; a `ctsd serve` claims it and is SIGKILLed
while the compose server stalls mid-answer; a second `ctsd serve` takes the job once
the lease runs out and imports the contents."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import compose_info
from tests.contents_support import images_document, package, rpms_document
from tests.e2e.broker import BROKER_USER
from tests.e2e.bus import BusNames, Consumers, Publisher, write_config
from tests.e2e.conftest import ServerFactory, query
from tests.relaying import AMQP_URL

pytestmark = pytest.mark.e2e

CID = "rhel-10.0-20250101.n.0"
LEASE = 8.0


class ComposeTree:
    """An HTTP server for <top>/compose/metadata/*.json that can stall mid-body."""

    def __init__(self) -> None:
        self.files = {
            "rpms": gzip.compress(json.dumps(rpms_document(CID, [
                package("BaseOS", "x86_64", "glibc", "2.40-7.fc42", debug=True)])).encode()),
            "images": gzip.compress(json.dumps(images_document(
                CID, [("BaseOS", "x86_64", "dvd", "iso")])).encode()),
        }
        self.stall = True
        self.stalled = asyncio.Event()
        self.requests = 0
        self.base = ""

    async def serve(self, request: web.Request) -> web.StreamResponse:
        body = self.files[request.match_info["name"]]
        self.requests += 1
        response = web.StreamResponse(headers={"Content-Encoding": "gzip",
                                               "Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        if self.stall:
            await response.write(body[:10])
            self.stalled.set()
            await asyncio.sleep(3600)  # until the client goes away
        await response.write(body)
        await response.write_eof()
        return response


@pytest.fixture
async def tree() -> AsyncIterator[ComposeTree]:
    server = ComposeTree()
    app = web.Application()
    app.router.add_get("/nightly/{compose}/compose/metadata/{name}.json", server.serve)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base = f"http://127.0.0.1:{runner.addresses[0][1]}/nightly"
    yield server
    await runner.cleanup()


@pytest.fixture
def names() -> Iterator[BusNames]:
    bus_names = BusNames.new()
    yield bus_names
    bus_names.delete_queues(AMQP_URL)


def config(path: Path, names: BusNames, tree: ComposeTree) -> Path:
    write_config(path, names, translate_paths=[("/mnt/composes", tree.base)],
                 builders=[BROKER_USER, "pungi", "odcs"])
    with path.open("a") as handle:
        handle.write(f"[contents]\nlease_seconds = {LEASE}\ntimeout_seconds = 6.0\n"
                     "poll_seconds = 0.2\nbackoff_seconds = 0.5\n")
    return path


async def eventually(condition: Any, what: str, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)
    return value


def job(url: str) -> Any:
    rows = query(url, "SELECT state, attempts, leased_by, last_error FROM contents_fetch_jobs")
    return rows[0] if rows else None


async def test_pungi_finished_leads_to_contents_despite_a_killed_fetcher(
        start_ctsd: ServerFactory, pg_url: str, tree: ComposeTree, names: BusNames,
        tmp_path: Path) -> None:
    settings_file = str(config(tmp_path / "ctsd.toml", names, tree))
    env = {"CTSD_DATABASE_URL": pg_url, "CTSD_CONFIG": settings_file}
    (first,) = start_ctsd(**env)
    async with aiohttp.ClientSession() as http:
        reply = await http.post(f"{first.base_url}/api/1/composes/", json={
            "compose_info": compose_info("rhel", "10.0", "20250101", type_="nightly")})
        assert (await reply.json())["payload"]["compose"]["id"] == CID
    consumers = Consumers(tmp_path, names, AMQP_URL, **env)
    consumers.start()
    publisher = Publisher(AMQP_URL)
    try:
        publisher.publish(names.pungi_topic, {"status": "FINISHED", "compose_id": CID,
                                              "location": f"/mnt/composes/{CID}/compose"},
                          user_id=None)
        await asyncio.wait_for(tree.stalled.wait(), 40)
        claimed = job(pg_url)
        assert (claimed.state, claimed.attempts) == ("pending", 1)
        first.process.kill()  # SIGKILL mid-download: its lease is all that is left
        first.process.wait(10)
        tree.stall = False
        (second,) = start_ctsd(**env)
        done = await eventually(lambda: (j := job(pg_url)) is not None and j.state == "done"
                                and j, "the second daemon's fetch")
        assert done.attempts == 2
        async with aiohttp.ClientSession() as http:
            contents = await (await http.get(
                f"{second.base_url}/api/1/composes/{CID}/contents/")).json()
            found = await (await http.get(
                f"{second.base_url}/api/1/composes/?rpm_nvr=glibc-2.40-7.fc42")).json()
        assert contents["rpms"]["count"] == 3 and contents["images"]["count"] == 1
        assert [c["compose_info"]["payload"]["compose"]["id"] for c in found["items"]] == [CID]
        topics = [row[0] for row in query(pg_url, "SELECT topic FROM outbox ORDER BY id")]
        assert topics.count("cts.compose-contents-imported") == 2
    finally:
        publisher.close()
        consumers.stop_all()
