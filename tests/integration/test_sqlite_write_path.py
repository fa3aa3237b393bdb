"""The SQLite write connection (issue #14): its statements run on the event loop's
thread, a lock held elsewhere is waited for without stopping the loop, its commits never
checkpoint, and checkpoints run beside the writes, taking the write queue's turn only to
let a large WAL start again."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from pathlib import Path

from ctsd.bootstrap import open_write_path, roles_from
from ctsd.db.engine import create_write_engine
from ctsd.db.sqlite_checkpoint import WalCheckpointer, checkpoint_pass
from ctsd.service import CommandBus
from handlers.commands import CreateTag
from tests.integration.test_sqlite_write_queue import ADMIN, sqlite_settings


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_write_statements_run_on_the_event_loop_thread(tmp_path: Path) -> None:
    async with open_write_path(sqlite_settings(tmp_path)) as write_path:
        async with write_path.bus.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.create_function("thread", 0, threading.get_ident)
            ran_on = (await conn.exec_driver_sql("SELECT thread()")).scalar_one()
        assert ran_on == threading.get_ident()


async def test_a_lock_held_elsewhere_is_waited_for_with_the_loop_running(
        tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    other = sqlite3.connect(tmp_path / "cts.sqlite", isolation_level=None)
    async with open_write_path(settings) as write_path:
        await write_path.bus.execute(CreateTag("first", "d", "https://docs"), ADMIN)
        other.execute("BEGIN IMMEDIATE")  # another process's writer
        write = asyncio.create_task(
            write_path.bus.execute(CreateTag("held", "d", "https://docs"), ADMIN))
        # The loop keeps turning while the write waits: 20 ticks of 10 ms take about
        # 0.2 s, against SQLite's own busy handler's 30 s with the loop stopped.
        started = time.monotonic()
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 5
        assert not write.done()
        other.execute("COMMIT")
        outcome = await asyncio.wait_for(write, timeout=10)
        assert outcome.body["name"] == "held"
    other.close()


async def test_commits_leave_checkpoints_to_the_background_task(tmp_path: Path) -> None:
    # The write engine and the command bus without the background task that
    # open_write_path runs beside them: only the explicit passes below checkpoint.
    settings = sqlite_settings(tmp_path)
    database = tmp_path / "cts.sqlite"
    engine = create_write_engine(settings)
    bus = CommandBus(engine, roles_from(settings), settings.topic_prefix)
    checkpointer = WalCheckpointer(settings.async_database_url)
    try:
        # The first connection turns the file to WAL mode: compare from there on.
        await bus.execute(CreateTag("first", "d", "https://docs"), ADMIN)
        await checkpoint_pass(checkpointer, engine)
        before = digest(database)
        # Far past SQLite's 1,000-page automatic checkpoint.
        for n in range(400):
            await bus.execute(CreateTag(f"tag-{n}", "d" * 2000, "https://docs"), ADMIN)
        assert digest(database) == before  # no commit copied pages back
        frames, copied = await checkpoint_pass(checkpointer, engine)
    finally:
        checkpointer.close()
        await engine.dispose()
    assert frames > 1000
    assert copied == frames
    assert digest(database) != before


async def test_a_large_wal_is_restarted_in_the_write_queues_turn(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    async with open_write_path(settings) as write_path:
        bus = write_path.bus
        for n in range(20):
            await bus.execute(CreateTag(f"tag-{n}", "d", "https://docs"), ADMIN)
        checkpointer = WalCheckpointer(settings.async_database_url)
        async with bus.engine.connect():  # a write under way holds the queue
            checkpointing = asyncio.create_task(
                checkpoint_pass(checkpointer, bus.engine, restart_frames=10))
            await asyncio.sleep(0.3)
            assert not checkpointing.done()
        frames, copied = await asyncio.wait_for(checkpointing, timeout=10)
        assert frames == copied >= 10
        # The next writer starts the WAL again from its beginning.
        await bus.execute(CreateTag("after", "d", "https://docs"), ADMIN)
        frames_after, _ = await asyncio.to_thread(checkpointer.checkpoint)
        checkpointer.close()
        assert frames_after < frames
