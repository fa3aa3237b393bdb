"""Health checks (/health/live, /health/ready) and the outbox and relay metrics."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, update

from ctsd.api import health
from ctsd.api.app import create_app
from ctsd.api.health import BrokerProbe
from ctsd.config import Settings
from ctsd.db.engine import create_engine as create_async_engine
from ctsd.db.tables import outbox, processed_messages
from ctsd.relay.runner import STATS, OutboxRelay
from ctsd.relay.store import OutboxStore
from ctsd.relay.wakeup import OutboxWakeup
from ctsd.relay.wire import Envelope
from tests.conftest import import_compose
from tests.relaying import AMQP_URL

UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/cts"
CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1/%2F"


async def get(client: TestClient, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


async def test_live_is_ok(client):
    assert await get(client, "/health/live") == {"status": "ok"}


async def test_ready_reports_database_broker_and_outbox(client):
    body = await get(client, "/health/ready")
    assert body == {"status": "ok", "database": {"ok": True},
                    "broker": {"configured": False, "relay": {"configured": False}},
                    "outbox": {"backlog": 0, "oldest_unsent_age_seconds": 0.0}}

    await import_compose(client)
    outbox_state = (await get(client, "/health/ready"))["outbox"]
    assert outbox_state["backlog"] == 1
    assert 0 <= outbox_state["oldest_unsent_age_seconds"] < 60


async def test_not_ready_when_the_database_does_not_answer(aiohttp_client):
    client = await aiohttp_client(create_app(Settings(database_url=UNREACHABLE_DATABASE)))
    started = time.monotonic()
    body = await get(client, "/health/ready", status=503)
    assert time.monotonic() - started < health.DATABASE_TIMEOUT + 1
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False
    assert body["database"]["error"].startswith("ConnectionRefusedError")
    assert body["outbox"] == {"backlog": None, "oldest_unsent_age_seconds": None}
    # Alive all the same: restarting the process would not bring the database back.
    assert await get(client, "/health/live") == {"status": "ok"}


async def test_broker_probe_reports_a_reachable_and_an_unreachable_broker():
    assert await BrokerProbe("").check() == {"configured": False}
    assert await BrokerProbe(AMQP_URL).check() == {"configured": True, "ok": True}
    down = await BrokerProbe(CLOSED_BROKER).check()
    assert down["configured"] is True and down["ok"] is False and down["error"]


async def test_broker_probe_connects_at_most_once_per_interval():
    # A real TCP peer on loopback that counts the connections it accepts.
    connects = 0

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connects
        connects += 1
        writer.close()

    peer = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = peer.sockets[0].getsockname()[1]
    try:
        probe = BrokerProbe(f"amqp://guest:guest@127.0.0.1:{port}/")
        results = await asyncio.gather(*(probe.check() for _ in range(5)))
        await asyncio.sleep(0.1)  # let the peer see what it was sent
    finally:
        peer.close()
        await peer.wait_closed()
    assert all(result["ok"] for result in results)
    assert connects == 1


async def test_a_broker_outage_does_not_make_the_service_unready(aiohttp_client, pg_url):
    settings = Settings(database_url=pg_url, amqp_url=CLOSED_BROKER)
    client = await aiohttp_client(create_app(settings))
    body = await get(client, "/health/ready")
    assert body["status"] == "ok"
    assert body["broker"]["configured"] is True and body["broker"]["ok"] is False


# --- metrics ---------------------------------------------------------------------------


def sample(text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                return s.value
    return None


async def scrape(client: TestClient) -> str:
    response = await client.get("/api/1/metrics/")
    assert response.status == 200
    return await response.text()


async def test_metrics_count_published_rows_and_processed_messages(client, database_url):
    text = await scrape(client)
    assert sample(text, "cts_outbox_published") == 0
    assert sample(text, "cts_processed_messages") == 0
    assert sample(text, "cts_relay_published_total") == STATS.published

    await import_compose(client)
    await import_compose(client)
    engine = create_engine(Settings(database_url=database_url).sync_database_url)
    try:
        with engine.begin() as conn:
            first = conn.execute(outbox.select().order_by(outbox.c.id)).first()
            conn.execute(update(outbox).where(outbox.c.id == first.id)
                         .values(sent_at=datetime.now(UTC) - timedelta(minutes=1)))
            conn.execute(processed_messages.insert().values(
                message_id="m-1", processed_at=datetime.now(UTC)))
    finally:
        engine.dispose()

    text = await scrape(client)
    assert sample(text, "cts_outbox_published") == 1
    assert sample(text, "cts_outbox_backlog") == 1
    assert sample(text, "cts_processed_messages") == 1


class ConfirmingBroker:
    async def publish_batch(self, envelopes: list[Envelope]) -> list[bool]:
        return [True] * len(envelopes)

    async def keepalive(self) -> None:
        pass


async def test_relay_counter_counts_what_this_process_published(client, settings):
    rows = 2
    for _ in range(rows):
        await import_compose(client)
    before = sample(await scrape(client), "cts_relay_published_total")

    engine = create_async_engine(settings)
    try:
        relay = OutboxRelay(OutboxStore(engine), ConfirmingBroker(),  # type: ignore[arg-type]
                            OutboxWakeup(settings.database_url, 1.0))
        assert await relay.drain() == rows
    finally:
        await engine.dispose()

    assert sample(await scrape(client), "cts_relay_published_total") == before + rows
    assert sample(await scrape(client), "cts_outbox_published") == rows
