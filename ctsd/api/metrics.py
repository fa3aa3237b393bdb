"""Prometheus metrics: request counts and latency, plus state read from the database.

Request metrics live in one registry per process (not prometheus_client's global
default), so that importing this module twice or creating many apps in one test run
never registers a metric twice. With several workers they are written to shared files
and every scrape merges all workers (ctsd.observability.metrics_setup).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ctsd.api.errors import Handler
from ctsd.api.keys import READ_ENGINE, SETTINGS
from ctsd.db.engine import ReadEngine
from ctsd.db.queries.metrics import database_counts
from ctsd.observability.metrics_setup import exposition_registries
from ctsd.observability.queue_gauges import consumer_queue_gauges
from ctsd.observability.registry import REGISTRY
from handlers.errors import CommandError

REQUESTS = Counter("cts_http_requests", "HTTP requests answered",
                   ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("cts_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["method", "route"], registry=REGISTRY,
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                             2.5, 5.0, 10.0))

# Labels must stay few: any method outside this set, and any path that matched no
# route (scanners, typos), share one label value each.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
# The client hung up before the answer (nginx's convention for it).
CLIENT_GONE = 499

# The labelled children, cached: .labels() validates and locks on every call, which
# is measurable at thousands of requests per second.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


def _status_of(exc: BaseException) -> int:
    # The error middleware sits outside this one and turns exceptions into answers;
    # this is the status it will give.
    if isinstance(exc, web.HTTPException):
        return exc.status
    if isinstance(exc, CommandError):
        return exc.status
    if isinstance(exc, asyncio.CancelledError):
        return CLIENT_GONE
    return 500


def record(method: str, route: str, status: int, seconds: float) -> None:
    if method not in _KNOWN_METHODS:
        method = "OTHER"
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        children = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    try:
        response = await handler(request)
    except BaseException as exc:
        record(request.method, _route_of(request), _status_of(exc),
               time.perf_counter() - start)
        raise
    record(request.method, _route_of(request), response.status, time.perf_counter() - start)
    return response


class _Snapshot:
    """A collector that yields gauges read beforehand (collect() cannot await)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def database_gauges(engine: ReadEngine, now: datetime | None = None) -> list[Metric]:
    """Composes, tags, outbox and processed bus messages, in one round trip at scrape
    time."""
    counts = await database_counts(engine, now)
    return [
        GaugeMetricFamily("cts_composes", "Composes stored", value=counts.composes),
        GaugeMetricFamily("cts_tags", "Tags defined", value=counts.tags),
        GaugeMetricFamily("cts_outbox_backlog", "Messages not yet published",
                          value=counts.backlog),
        GaugeMetricFamily("cts_outbox_oldest_unsent_age_seconds",
                          "Age of the oldest message not yet published (0 if none)",
                          value=counts.oldest_unsent_age_seconds),
        GaugeMetricFamily("cts_outbox_published",
                          "Published messages still kept in the outbox (for the event "
                          "feed; deleted after outbox_retention_days)", value=counts.published),
        GaugeMetricFamily("cts_processed_messages",
                          "Bus messages whose effect is committed (redeliveries skipped)",
                          value=counts.processed),
    ]


async def metrics(request: web.Request) -> web.Response:
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(await database_gauges(request.app[READ_ENGINE])
                                + await consumer_queue_gauges(request.app[SETTINGS])))
    # With several workers, the merge of all of them (ctsd.observability.metrics_setup).
    body = b"".join(generate_latest(registry)
                    for registry in (*exposition_registries(REGISTRY), snapshot))
    response = web.Response(body=body)
    # The exposition content type carries a version parameter aiohttp's content_type
    # setter does not accept, so the header is set as a whole.
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
