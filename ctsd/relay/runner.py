"""The relay loop: drain the outbox to the broker, then sleep until woken or polled.

Guarantees: a row is marked sent only after the broker confirmed it; rows about one
compose go out in the order they were written; a failed publish is retried (same
message id) with exponential backoff until the broker takes it. Rows may be published
twice (a crash between confirm and commit), never lost or reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fedora_messaging.message import Message
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, RetryCallState, wait_exponential, wait_random

from ctsd.config import Settings
from ctsd.db.engine import create_engine
from ctsd.observability.bus_tracing import start_publish_round
from ctsd.relay.amqp import BrokerError
from ctsd.relay.store import Claim, OutboxStore
from ctsd.relay.transports import Publisher, publisher_for, relay_configured
from ctsd.relay.wakeup import OutboxWakeup
from ctsd.relay.wire import Envelope, InvalidMessage, OutboxRow, envelope_for

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
DEFAULT_POLL_INTERVAL = 1.0
# Low, so that publishing resumes within about 2 s of the broker coming back; the
# jitter keeps relays restarted together from reconnecting in step.
MAX_BACKOFF = 1.0
MAX_JITTER = 0.5


@dataclass
class RelayStats:
    """What the relays of this process did; /api/1/metrics/ reports it."""

    published: int = 0  # messages the broker confirmed (a retry after a crash counts again)


STATS = RelayStats()


class OutboxRelay:
    def __init__(self, store: OutboxStore, publisher: Publisher, wakeup: OutboxWakeup,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_backoff: float = MAX_BACKOFF,
                 *, exchange: str = "") -> None:
        self._store = store
        self._publisher = publisher
        self._wakeup = wakeup
        self._batch_size = batch_size
        self._max_backoff = max_backoff
        self._exchange = exchange  # named on publish spans
        # Rows whose body fails its schema: left out of claims until this process ends
        # (a fixed release retries them), so they cannot fill every batch.
        self._invalid_ids: set[int] = set()
        self._schemaless_topics: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set."""
        while not stop.is_set():
            self._wakeup.clear()
            await self._drain_with_backoff(stop)
            if stop.is_set():
                break
            await self._publisher.keepalive()
            await self._wakeup.wait(stop)

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Publish batches until nothing is publishable right now (or `stop` is set);
        return how many went.

        Raises BrokerError (or a database error) after saving what was confirmed so far.
        """
        total = 0
        while stop is None or not stop.is_set():
            async with self._store.claim(self._batch_size, self._invalid_ids) as claim:
                await self._publish(claim)
            total += len(claim.sent_ids)
            # A short batch means the outbox is empty; a full one where nothing happened
            # holds only rows waiting their turn, which a later pass will find.
            if claim.claimed < self._batch_size or not (claim.sent_ids or claim.failures):
                break
        return total

    async def _publish(self, claim: Claim) -> None:
        """Publish the claimed rows in rounds: each round sends the oldest waiting row of
        every compose as one pipelined batch, then waits for the confirms.

        At most one row per compose is ever in flight, so a refused or lost row holds
        back the later rows of its compose (they go only after it) and nothing else.
        """
        waiting = list(claim.rows)
        held: set[str] = set()  # composes with a row that failed: the rest must wait
        while waiting:
            round_rows, waiting = _one_per_compose(waiting, held)
            if not round_rows:
                return
            publish_round = start_publish_round(round_rows, self._exchange)
            envelopes = self._envelopes(claim, publish_round.rows, held)
            results = await self._publisher.publish_batch([e for _, e in envelopes]
                                                          ) if envelopes else []
            publish_round.end([row for row, _ in envelopes], results)
            if not envelopes:
                continue
            failure = None
            for (row, _), result in zip(envelopes, results, strict=True):
                if isinstance(result, BrokerError):
                    claim.failed(row, str(result))
                    failure = result
                    if row.ordering_key is not None:
                        held.add(row.ordering_key)
                    continue
                claim.sent(row)
                STATS.published += 1
                if not result:
                    log.info("no queue is bound for %s; message %s published unrouted",
                             row.topic, row.message_id)
            if failure is not None:
                raise failure

    def _envelopes(self, claim: Claim, rows: list[OutboxRow],
                   held: set[str]) -> list[tuple[OutboxRow, Envelope]]:
        envelopes = []
        for row in rows:
            try:
                envelope = envelope_for(row)
            except InvalidMessage as exc:
                self._report_invalid(claim, row, exc)
                if row.ordering_key is not None:
                    held.add(row.ordering_key)
                continue
            self._warn_if_schemaless(envelope)
            envelopes.append((row, envelope))
        return envelopes

    def _warn_if_schemaless(self, envelope: Envelope) -> None:
        # Published all the same (a new kind of change must not wait for its schema),
        # but receivers can only treat it as arbitrary JSON until schemas/ has a class.
        topic = envelope.routing_key
        if type(envelope.message) is Message and topic not in self._schemaless_topics:
            self._schemaless_topics.add(topic)
            log.warning("no schema in schemas/ for %s; publishing it as base.message",
                        topic)

    def _report_invalid(self, claim: Claim, row: OutboxRow, exc: InvalidMessage) -> None:
        # An invalid body is a bug in CTS, not a broker hiccup: it stays in the outbox,
        # with the error, until a fixed release publishes it.
        self._invalid_ids.add(row.id)
        log.error("outbox row %s is not published, its body fails its schema: %s", row.id, exc)
        claim.failed(row, f"invalid message: {exc}")

    async def _drain_with_backoff(self, stop: asyncio.Event) -> None:
        retrying = AsyncRetrying(
            # 0.1 s, 0.2 s, 0.4 s ... up to max_backoff, plus jitter.
            wait=wait_exponential(multiplier=0.1, max=self._max_backoff)
            + wait_random(0, MAX_JITTER),
            stop=lambda _state: stop.is_set(),
            sleep=lambda seconds: _sleep_unless(stop, seconds),
            before_sleep=_log_retry,
            reraise=True,
        )
        with contextlib.suppress(Exception):
            async for attempt in retrying:
                with attempt:
                    await self.drain(stop)
        # Only a stop ends the retrying early; the error was logged by _log_retry.


def _one_per_compose(rows: list[OutboxRow], held: set[str]
                     ) -> tuple[list[OutboxRow], list[OutboxRow]]:
    """Split rows (oldest first) into this round's (the first of each compose that is
    not held back; every row without a compose) and the rest (minus held composes')."""
    this_round: list[OutboxRow] = []
    later: list[OutboxRow] = []
    in_round: set[str] = set()
    for row in rows:
        key = row.ordering_key
        if key is not None and key in held:
            continue
        if key is None or key not in in_round:
            this_round.append(row)
            if key is not None:
                in_round.add(key)
        else:
            later.append(row)
    return this_round, later


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    if isinstance(exc, BrokerError):
        log.warning("outbox relay: broker unavailable (%s); retrying in %.1fs", exc, wait)
    else:
        log.error("outbox relay failed; retrying in %.1fs", wait, exc_info=exc)


async def run_relay(settings: Settings, stop_event: asyncio.Event, *,
                    engine: AsyncEngine | None = None,
                    poll_interval: float = DEFAULT_POLL_INTERVAL,
                    batch_size: int = DEFAULT_BATCH_SIZE) -> None:
    """Publish the outbox to `settings.amqp_url` until `stop_event` is set.

    Does nothing without an amqp_url: events then simply accumulate in the outbox.
    Any number may run against PostgreSQL; on SQLite the extra ones stand by.
    """
    if not relay_configured(settings):
        log.info("messaging.amqp_url is not set: no outbox relay; events stay in the outbox")
        return
    own_engine = engine is None
    engine = engine or create_engine(settings)
    publisher = publisher_for(settings)
    wakeup = OutboxWakeup(settings.database_url, poll_interval)
    relay = OutboxRelay(OutboxStore(engine), publisher, wakeup, batch_size,
                        exchange=settings.publish_exchange)
    try:
        async with _sole_sqlite_relay(settings, stop_event) as may_run:
            if may_run:
                log.info("outbox relay publishing to exchange %s", settings.publish_exchange)
                await relay.run(stop_event)
    finally:
        await wakeup.close()
        await publisher.close()
        if own_engine:
            await engine.dispose()


@contextlib.asynccontextmanager
async def _sole_sqlite_relay(settings: Settings, stop: asyncio.Event) -> AsyncIterator[bool]:
    """On SQLite, hold an exclusive lock beside the database file while relaying.

    Nothing there stops two relays from publishing the same row (no SKIP LOCKED), and
    `ctsd serve --workers N` starts one per process. The others wait here and take
    over when the holder exits. Yields False if stopped while waiting.
    """
    path = make_url(settings.database_url).database if settings.is_sqlite else None
    if not path or path == ":memory:":
        yield True
        return
    with _open_lock_file(f"{path}.relay-lock") as handle:
        acquired = await _lock_when_free(handle, stop)
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _open_lock_file(path: str) -> IO[str]:
    # A local file opened in append mode: instant, no need for a thread.
    return Path(path).open("a")


async def _lock_when_free(handle: IO[str], stop: asyncio.Event) -> bool:
    announced = False
    while not stop.is_set():
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if not announced:
                log.info("another outbox relay serves this SQLite database; standing by")
                announced = True
            await _sleep_unless(stop, 5.0)
    return False
