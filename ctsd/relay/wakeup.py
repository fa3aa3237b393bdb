"""When to look at the outbox again: at once on a NOTIFY, otherwise every poll interval.

A trigger on outbox NOTIFYs `cts_outbox` in the transaction that adds rows (migration 0003), so a
listening relay publishes within milliseconds of the commit. Notifications are only a
hint: one sent while the listener was reconnecting is lost, which is why the relay
still polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from ctsd.db.uow import OUTBOX_CHANNEL

log = logging.getLogger(__name__)


def asyncpg_dsn(database_url: str) -> str | None:
    """The plain libpq-style DSN asyncpg takes, or None for a non-PostgreSQL database."""
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class OutboxWakeup:
    def __init__(self, database_url: str, poll_interval: float) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._poll_interval = poll_interval
        self._event = asyncio.Event()
        self._listener: Any = None  # asyncpg.Connection while listening
        self._warned = False

    def clear(self) -> None:
        """Forget earlier wake-ups; call before reading the outbox, so that a NOTIFY
        arriving while the relay works triggers one more pass."""
        self._event.clear()

    async def wait(self, stop: asyncio.Event) -> None:
        """Return on a NOTIFY, on `stop`, or after the poll interval."""
        await self._ensure_listening()
        waits = [asyncio.ensure_future(self._event.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=self._poll_interval,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            with contextlib.suppress(Exception):
                await listener.close(timeout=5)

    async def _ensure_listening(self) -> None:
        if self._dsn is None:
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        # Whatever goes wrong here, polling still works: a listener problem must never
        # stop the relay, hence the broad excepts.
        try:
            listener = await asyncpg.connect(self._dsn, timeout=5)
        except Exception as exc:
            self._listen_failed(exc)
            return
        try:
            await listener.add_listener(OUTBOX_CHANNEL, self._notified)
        except Exception as exc:
            listener.terminate()
            self._listen_failed(exc)
            return
        self._listener, self._warned = listener, False
        # Rows may have arrived while not listening.
        self._event.set()

    def _listen_failed(self, exc: Exception) -> None:
        # The next wait tries again; say so once, not every second.
        level = logging.DEBUG if self._warned else logging.WARNING
        log.log(level, "cannot LISTEN %s, polling only: %s", OUTBOX_CHANNEL, exc)
        self._warned = True

    def _notified(self, *_args: object) -> None:
        self._event.set()
