"""Metrics of ctsd's own work (workers, relay, predicted respins), created on first use.

Created lazily, in the process that uses them: with several workers that is after
`prepare_multiprocess_metrics` (ctsd.observability.metrics_setup), so their samples go
to the shared files and every scrape sums all workers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from prometheus_client import Counter, Gauge

from ctsd.observability.registry import REGISTRY


@functools.cache
def _workers() -> Gauge:
    return Gauge("cts_http_workers", "HTTP worker processes serving",
                 registry=REGISTRY, multiprocess_mode="livesum")


@functools.cache
def _relay_counters() -> tuple[Counter, Counter]:
    published = Counter("cts_relay_published", "Messages the outbox relays of this "
                        "server confirmed by the broker (a retry after a crash counts again)",
                        registry=REGISTRY)
    failed = Counter("cts_relay_publish_failures", "Publish attempts the broker refused or "
                     "did not confirm, and rows whose body fails its schema", registry=REGISTRY)
    return published, failed


@functools.cache
def _predictions() -> Counter:
    return Counter("cts_respin_predictions", "Respins of HTTP imports predicted rather "
                   "than allocated ahead (ctsd.respin_predictions): written by their "
                   "group's statement (held), or undone with it because a prediction of "
                   "the group was wrong or a kept answer was there (undone; the group "
                   "then runs again with allocated respins)", ["outcome"], registry=REGISTRY)


def record_predictions(count: int, *, held: bool) -> None:
    """Count the predicted respins of one commit statement, written or undone."""
    _predictions().labels("held" if held else "undone").inc(count)


async def worker_started(_app: web.Application) -> None:
    """aiohttp on_startup: count this worker (and create its metrics file at once, so a
    scrape finds its process metrics before it has served anything); the relay's
    counters exist from here on too, at 0 until it publishes."""
    _workers().set(1)
    _relay_counters()


def record_publish_round(results: Sequence[Any], unpublishable: int) -> None:
    """Count a relay round: True/False results were confirmed, anything else failed."""
    published, failed = _relay_counters()
    confirmed = sum(1 for result in results if isinstance(result, bool))
    if confirmed:
        published.inc(confirmed)
    if len(results) - confirmed + unpublishable:
        failed.inc(len(results) - confirmed + unpublishable)
