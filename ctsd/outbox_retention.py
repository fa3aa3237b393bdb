"""Retention: delete events published more than `outbox_retention_days` ago, and the
records that make retries safe (processed bus message ids, stored HTTP answers) once no
retry can need them.

The outbox is the journal behind the event feed (ctsd/api/events.py), so published rows
are kept for a while rather than deleted at once; without pruning it would grow forever.
Rows not yet published are never deleted, however old: they still have to go out.

`ctsd serve` prunes once an hour (`retention_cleanup_ctx`). Every server process does,
and that is safe: each batch is one short transaction that, on PostgreSQL, first takes
a transaction-level advisory lock without waiting; a process that finds it taken leaves
the work to the holder. On SQLite the database's single write lock does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ctsd.background import stop_task
from ctsd.config import Settings
from ctsd.db.engine import create_engine, open_write_connection
from ctsd.db.kept_answers import KEPT_ANSWER_TTL
from ctsd.db.tables import idempotency_keys, outbox, processed_messages

log = logging.getLogger(__name__)

RETENTION_LOCK = 0x43545352  # "CTSR"; the migration lock is "CTSD"
BATCH_SIZE = 1000
PRUNE_INTERVAL = 3600.0
# The first pass waits a little, so that start-up (and a test's short-lived app) does
# not pay for it; the jitter spreads processes started together.
FIRST_PRUNE_DELAY = 60.0
# How long shutdown waits for a batch in flight before cancelling it (rolled back).
SHUTDOWN_GRACE = 10.0


async def prune_sent_outbox(engine: AsyncEngine, keep: timedelta,
                            now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Delete rows published before `now - keep`, in batches; return how many went.

    Returns early (having deleted what it did) when another process holds the
    PostgreSQL retention lock, i.e. is pruning right now.
    """
    cutoff = (now or datetime.now(UTC)) - keep
    deleted = 0
    while True:
        batch = await _delete_batch(engine, cutoff, batch_size)
        if batch is None:
            log.debug("another server is pruning the outbox")
            break
        deleted += batch
        if batch < batch_size:
            break
    if deleted:
        log.info("deleted %d published outbox rows sent before %s", deleted,
                 cutoff.isoformat())
    return deleted


async def _delete_batch(engine: AsyncEngine, cutoff: datetime, batch_size: int) -> int | None:
    """One short transaction; None when another process holds the retention lock."""
    conn = await open_write_connection(engine)
    try:
        await conn.begin()
        if not await _try_retention_lock(conn):
            await conn.rollback()
            return None
        # `sent_at < cutoff` is never true for NULL: unpublished rows are never chosen.
        # The (sent_at, id) index finds the oldest published rows without a scan.
        oldest = (select(outbox.c.id).where(outbox.c.sent_at < cutoff)
                  .order_by(outbox.c.sent_at, outbox.c.id).limit(batch_size))
        result = await conn.execute(delete(outbox).where(outbox.c.id.in_(oldest)))
        await conn.commit()
        return result.rowcount
    finally:
        await conn.close()


async def _try_retention_lock(conn: AsyncConnection) -> bool:
    if conn.dialect.name != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already made this the only writer
    # Transaction-scoped: released by the commit, even if this process dies mid-batch,
    # and never left behind on a pooled connection.
    query = select(func.pg_try_advisory_xact_lock(RETENTION_LOCK))
    return bool((await conn.execute(query)).scalar())


async def prune_request_records(engine: AsyncEngine, keep: timedelta,
                                replay_window: timedelta, now: datetime | None = None) -> int:
    """Forget ids of bus messages processed before `now - keep` (a redelivery comes within
    minutes, not weeks) and stored HTTP answers older than their replay window."""
    now = now or datetime.now(UTC)
    replay_window = max(replay_window, KEPT_ANSWER_TTL)
    conn = await open_write_connection(engine)
    try:
        await conn.begin()
        messages = await conn.execute(delete(processed_messages).where(
            processed_messages.c.processed_at < now - keep))
        answers = await conn.execute(delete(idempotency_keys).where(
            idempotency_keys.c.created_at < now - replay_window))
        await conn.commit()
    finally:
        await conn.close()
    return messages.rowcount + answers.rowcount


def retention_cleanup_ctx(settings: Settings) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp cleanup_ctx entry pruning the outbox while serving, with its own
    engine (one connection, used once an hour). With `outbox_retention_days = 0` it
    starts nothing.
    """

    async def outbox_retention(_app: Any) -> AsyncIterator[None]:
        if settings.outbox_retention_days <= 0:
            yield
            return
        stop = asyncio.Event()
        engine = create_engine(settings)
        keep = timedelta(days=settings.outbox_retention_days)
        replay_window = timedelta(hours=settings.idempotency_ttl_hours)
        task = asyncio.create_task(prune_periodically(engine, keep, stop,
                                                      replay_window=replay_window),
                                   name="ctsd-outbox-retention")
        yield
        await stop_task(task, stop, SHUTDOWN_GRACE)
        await engine.dispose()

    return outbox_retention


async def prune_periodically(engine: AsyncEngine, keep: timedelta, stop: asyncio.Event, *,
                             replay_window: timedelta = timedelta(hours=24),
                             first_delay: float = FIRST_PRUNE_DELAY,
                             interval: float = PRUNE_INTERVAL) -> None:
    """Prune every `interval` seconds until `stop` is set; errors are logged, not raised."""
    await _sleep_unless(stop, first_delay + random.uniform(0, first_delay))  # noqa: S311
    while not stop.is_set():
        try:
            await prune_sent_outbox(engine, keep)
            await prune_request_records(engine, keep, replay_window)
        except Exception:
            # The database may be down for a while; the next pass tries again.
            log.warning("could not prune the outbox; trying again in %.0fs", interval,
                        exc_info=True)
        await _sleep_unless(stop, interval)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
