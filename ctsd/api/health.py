"""Health checks for load balancers and orchestrators.

`GET /health/live` answers 200 as long as the process serves HTTP at all: a failing
liveness probe means "restart me", which never helps a database outage.

`GET /health/ready` answers 200 when the database answers and 503 when it does not: a
failing readiness probe means "send no traffic here for now". A broker outage does not
count: without it changes are still accepted and wait in the outbox, so its state, the
relay's link and the outbox backlog are reported for operators. A broker that refuses
the relay's certificate or login does count (503): that is a deployment error which no
wait cures, and it should stop a rollout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ctsd.api.keys import READ_ENGINE
from ctsd.api.responses import json_response
from ctsd.broker.link import RELAY_LINK
from ctsd.broker.settings import broker_urls
from ctsd.db.queries.health import DATABASE_TIMEOUT, check_database, describe, outbox_state

__all__ = ["BROKER_PROBE", "DATABASE_TIMEOUT", "BrokerProbe", "live", "ready"]

BROKER_TIMEOUT = 1.0
# Probes come every few seconds from every balancer; one connect per process per
# interval is enough to know, and keeps the broker's connection log quiet.
BROKER_CACHE_SECONDS = 5.0
_AMQP_PORTS = {"amqp": 5672, "amqps": 5671}


class BrokerProbe:
    """Whether the broker accepts TCP connections, checked at most every few seconds."""

    def __init__(self, amqp_url: str) -> None:
        self._url = next(iter(broker_urls(amqp_url)), "")  # of a cluster: the first node
        self._lock = asyncio.Lock()
        self._checked_at = -BROKER_CACHE_SECONDS
        self._result: dict[str, Any] = {}

    async def check(self) -> dict[str, Any]:
        if not self._url:
            return {"configured": False}
        async with self._lock:  # concurrent probes share one connect
            if not self._result or time.monotonic() - self._checked_at >= BROKER_CACHE_SECONDS:
                self._result = await self._connect()
                self._checked_at = time.monotonic()
        return {"configured": True, **self._result}

    async def _connect(self) -> dict[str, Any]:
        try:
            parts = urlsplit(self._url)
            host, port = parts.hostname or "localhost", parts.port or _AMQP_PORTS.get(
                parts.scheme, 5672)
            async with asyncio.timeout(BROKER_TIMEOUT):
                _reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError, ValueError) as exc:
            return {"ok": False, "error": describe(exc)}
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return {"ok": True}


BROKER_PROBE = web.AppKey("broker_probe", BrokerProbe)


async def live(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    engine = request.app[READ_ENGINE]
    database = await check_database(engine)
    backlog = (await outbox_state(engine) if database["ok"]
               else {"backlog": None, "oldest_unsent_age_seconds": None})
    ready_now = database["ok"] and not RELAY_LINK.refused
    return json_response({
        "status": "ok" if ready_now else "unavailable",
        "database": database,
        "broker": {**await request.app[BROKER_PROBE].check(), "relay": RELAY_LINK.as_json()},
        "outbox": backlog,
    }, status=200 if ready_now else 503)
