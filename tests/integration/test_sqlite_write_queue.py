"""On SQLite the writes of one process queue in the process, one at a time (issue #14):
a second writer waits for the first one's connection, not in SQLite's busy handler,
whose sleeps made tag and create p99 at c=8 hundreds of milliseconds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event

from ctsd.bootstrap import open_write_path
from ctsd.config import Principals, Settings
from ctsd.db import migrate
from handlers.commands import CreateTag
from handlers.identity import Actor

ADMIN = Actor("alice")


def sqlite_settings(tmp_path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cts.sqlite'}",
                        admins=Principals(users=frozenset({"alice"})))
    migrate.upgrade(settings)
    return settings


class OpenWrites:
    """Counts the write transactions open at once on an engine: from the moment BEGIN
    IMMEDIATE is sent (a writer waiting on SQLite's lock is already counted) to COMMIT
    or ROLLBACK."""

    def __init__(self, sync_engine: Any) -> None:
        self.now = self.most = 0
        event.listen(sync_engine, "before_cursor_execute", self._statement)
        event.listen(sync_engine, "commit", self._end)
        event.listen(sync_engine, "rollback", self._end)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            self.now += 1
            self.most = max(self.most, self.now)

    def _end(self, _connection: Any) -> None:
        self.now -= 1


async def test_concurrent_writes_run_one_at_a_time_and_all_succeed(tmp_path: Path) -> None:
    async with open_write_path(sqlite_settings(tmp_path)) as write_path:
        writes = OpenWrites(write_path.bus.engine.sync_engine)
        outcomes = await asyncio.gather(*(
            write_path.bus.execute(CreateTag(f"tag-{n}", "d", "https://docs"), ADMIN)
            for n in range(24)))
        assert sorted(outcome.body["name"] for outcome in outcomes) == sorted(
            f"tag-{n}" for n in range(24))
        assert writes.most == 1
        assert writes.now == 0


async def test_reads_do_not_queue_behind_an_open_write(tmp_path: Path) -> None:
    async with open_write_path(sqlite_settings(tmp_path)) as write_path:
        held = asyncio.Event()
        release = asyncio.Event()

        async def slow_write(uow: Any) -> None:
            held.set()
            await release.wait()

        writing = asyncio.create_task(write_path.bus._in_transaction(slow_write))
        await held.wait()
        async with write_path.read_engine.connect() as conn:
            tags = await asyncio.wait_for(
                conn.exec_driver_sql("SELECT count(*) FROM tags"), timeout=5)
            assert tags.scalar_one() == 0
        release.set()
        await writing
