"""WAL checkpoints of the SQLite default, run beside the writes instead of inside them.

By default SQLite checkpoints in the COMMIT of whichever transaction grows the WAL past
1,000 pages: that commit copies the pages back into the database file and syncs both
files (with synchronous=NORMAL the only syncs there are), while the process's one write
connection is held and every queued writer waits. Under the harness at c=8 (issue #14)
that was every 34th create and every 100th tag, 5-90 ms each, once 406 ms. The write
connection therefore has wal_autocheckpoint=0 (ctsd.db.engine), and this task
checkpoints from a connection of its own, in a worker thread, once a second. PASSIVE
never waits for the writer or the readers and never blocks them.

A checkpoint that runs beside a steady stream of writes never finds the whole WAL
copied back, and only then can the next writer start the WAL again from its beginning:
it grew to 588 MB in one benchmark. So once the WAL holds RESTART_FRAMES, a pass takes
its turn in the write queue (the write engine's one connection): no writer of this
process appends meanwhile, the pass copies what the last one left and the next writer
restarts the WAL. That costs the queue one short checkpoint per RESTART_FRAMES frames
instead of one full one per 1,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.db.sqlite_inline import sqlite3_connector

INTERVAL = 1.0
RESTART_FRAMES = 16384  # 64 MiB of 4 KiB pages
log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints one database's WAL; `checkpoint` blocks (call it in a thread)."""

    def __init__(self, async_url: str) -> None:
        self._connect = sqlite3_connector(async_url)
        self._connection: sqlite3.Connection | None = None

    def checkpoint(self) -> tuple[int, int]:
        """One PASSIVE checkpoint: (frames in the WAL, frames now in the database)."""
        if self._connection is None:
            self._connection = self._connect()
        _busy, frames, copied = self._connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames, copied

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextlib.asynccontextmanager
async def checkpoints_in_background(async_url: str, write_engine: AsyncEngine, *,
                                    interval: float | None = None,
                                    restart_frames: int | None = None,
                                    ) -> AsyncIterator[None]:
    """Checkpoint the database's WAL every `interval` seconds (INTERVAL) while the block
    runs; `write_engine` is the engine whose connection queues the writes."""
    interval = INTERVAL if interval is None else interval
    restart_frames = RESTART_FRAMES if restart_frames is None else restart_frames
    checkpointer = WalCheckpointer(async_url)
    stop = asyncio.Event()
    task = asyncio.create_task(
        _checkpoint_until(stop, checkpointer, write_engine, interval, restart_frames),
        name="ctsd-sqlite-checkpoint")
    try:
        yield
    finally:
        # Stopped, not cancelled: a checkpoint under way in its thread cannot be
        # interrupted, and its connection is closed only once it is done.
        stop.set()
        await task
        checkpointer.close()


async def checkpoint_pass(checkpointer: WalCheckpointer, write_engine: AsyncEngine,
                          restart_frames: int = RESTART_FRAMES) -> tuple[int, int]:
    """A checkpoint beside the writes, then, if the WAL holds `restart_frames` or more,
    one in the write queue's turn; (frames in the WAL, frames copied) of the last."""
    frames, copied = await asyncio.to_thread(checkpointer.checkpoint)
    if frames >= restart_frames:
        # Holding the write engine's only connection: this process's writers wait.
        async with write_engine.connect():
            frames, copied = await asyncio.to_thread(checkpointer.checkpoint)
    return frames, copied


async def _checkpoint_until(stop: asyncio.Event, checkpointer: WalCheckpointer,
                            write_engine: AsyncEngine, interval: float,
                            restart_frames: int) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        try:
            await checkpoint_pass(checkpointer, write_engine, restart_frames)
        except sqlite3.Error:
            # A locked or missing file now says nothing about the next pass; the WAL
            # just grows until one succeeds.
            log.warning("WAL checkpoint failed; trying again in %.0fs", interval,
                        exc_info=True)
