"""The automatic contents fetch on PostgreSQL and SQLite: a job queued with the change
that gave the compose its location, fetched from a real local HTTP server, leases that
keep a second daemon off (until they expire), retries and the recorded give-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ctsd.api.keys import BUS
from ctsd.config import Settings
from ctsd.contents_fetch.jobs import claim_job
from ctsd.contents_fetch.settings import ContentsFetchSettings
from ctsd.contents_fetch.worker import Fetcher
from ctsd.db.uow import utcnow
from handlers.commands import RecordBuildStatus
from handlers.identity import ANONYMOUS
from tests.conftest import compose_info
from tests.contents_support import gzipped, images_document, package, rpms_document

CID = "rhel-10.0-20250101.n.0"
FETCH = ContentsFetchSettings(fetch=False, max_attempts=2, backoff_seconds=0,
                              lease_seconds=30, timeout_seconds=5)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # fetch=False: no background fetcher in the app; the tests drive one by hand.
    return Settings(database_url=database_url, contents=FETCH)


@pytest.fixture
async def tree() -> AsyncIterator[dict[str, Any]]:
    """A compose tree over HTTP: compose/metadata/rpms.json (gzip-encoded) and
    images.json, under the compose URL <server>/tree."""
    state: dict[str, Any] = {"rpms": rpms_document(CID, [
        package("BaseOS", "x86_64", "glibc", "2.40-7.fc42")]),
        "images": images_document(CID, [("BaseOS", "x86_64", "dvd", "iso")])}

    async def serve(request: web.Request) -> web.Response:
        document = state.get(request.match_info["name"])
        if document is None:
            raise web.HTTPNotFound()
        return web.Response(body=gzipped(document), content_type="application/json",
                            headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/tree/compose/metadata/{name}.json", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state["url"] = f"http://127.0.0.1:{port}/tree"
    yield state
    await runner.cleanup()


async def nightly(client: Any) -> None:
    body = compose_info("rhel", "10.0", "20250101", type_="nightly")
    response = await client.post("/api/1/composes/", json={"compose_info": body})
    assert (await response.json())["payload"]["compose"]["id"] == CID


async def set_url(client: Any, url: str) -> None:
    response = await client.patch(f"/api/1/composes/{CID}",
                                  json={"action": "set_url", "compose_url": url})
    assert response.status == 200, await response.text()


async def contents(client: Any) -> dict[str, Any]:
    return await (await client.get(f"/api/1/composes/{CID}/contents/")).json()


async def run_one(client: Any, settings: Settings) -> bool:
    async with aiohttp.ClientSession() as session:
        return await Fetcher(client.app[BUS], settings).run_one(session)


async def test_set_url_queues_a_fetch_that_imports_both_files(client, settings, tree):
    await nightly(client)
    assert await run_one(client, settings) is False  # nothing queued yet
    await set_url(client, tree["url"])
    assert (await contents(client))["fetch"]["state"] == "pending"
    assert await run_one(client, settings) is True
    summary = await contents(client)
    assert summary["rpms"]["count"] == 2 and summary["images"]["count"] == 1
    assert summary["rpms"]["imported_by"] == "ctsd-contents-fetch"
    assert (summary["fetch"]["state"], summary["fetch"]["attempts"]) == ("done", 1)
    assert await run_one(client, settings) is False


async def test_pungi_started_does_not_queue_but_finished_does(client, settings, tree):
    await nightly(client)
    bus = client.app[BUS]
    await bus.execute(RecordBuildStatus(CID, "STARTED", tree["url"]), ANONYMOUS)
    assert (await contents(client))["fetch"] is None
    await bus.execute(RecordBuildStatus(CID, "FINISHED", tree["url"]), ANONYMOUS)
    assert (await contents(client))["fetch"]["state"] == "pending"
    assert await run_one(client, settings) is True
    assert (await contents(client))["rpms"]["count"] == 2


async def test_missing_file_is_retried_then_given_up_with_the_reason(client, settings, tree):
    await nightly(client)
    del tree["rpms"]
    await set_url(client, tree["url"])
    assert await run_one(client, settings) is True
    fetch = (await contents(client))["fetch"]
    assert (fetch["state"], fetch["attempts"]) == ("pending", 1)
    assert "HTTP 404" in fetch["last_error"]
    assert await run_one(client, settings) is True
    fetch = (await contents(client))["fetch"]
    assert fetch["state"] == "failed" and "after 2 tries" in fetch["last_error"]
    changes = (await (await client.get(f"/api/1/composes/{CID}/changes/")).json())["changes"]
    assert changes[-1]["action"] == "contents_fetch_failed"
    assert await run_one(client, settings) is False
    # A new location queues it again from scratch.
    tree["rpms"] = rpms_document(CID, [package("BaseOS", "x86_64", "bash", "5.2-1")])
    await set_url(client, tree["url"] + "/")
    assert await run_one(client, settings) is True
    assert (await contents(client))["fetch"]["state"] == "done"


async def test_invalid_file_counts_as_a_failed_try(client, settings, tree):
    await nightly(client)
    tree["rpms"] = {"header": {"type": "productmd.rpms", "version": "1.2"}, "payload": {}}
    await set_url(client, tree["url"])
    assert await run_one(client, settings) is True
    fetch = (await contents(client))["fetch"]
    assert fetch["state"] == "pending" and "productmd" in fetch["last_error"]


async def test_a_lease_keeps_other_daemons_off_until_it_expires(client, settings, tree):
    await nightly(client)
    await set_url(client, tree["url"])
    engine, now, lease = client.app[BUS].engine, utcnow(), timedelta(seconds=30)
    first = await claim_job(engine, "daemon-a", now, lease)
    assert first is not None and first.attempts == 1
    assert await claim_job(engine, "daemon-b", now + timedelta(seconds=29), lease) is None
    retaken = await claim_job(engine, "daemon-b", now + timedelta(seconds=31), lease)
    assert retaken is not None and (retaken.compose_id, retaken.attempts) == (CID, 2)
