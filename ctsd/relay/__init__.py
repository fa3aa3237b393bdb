"""The outbox relay: publishes the events handlers wrote to the outbox table.

Three ways to run it, all the same loop (`run_relay`):
- inside the HTTP server: `app.cleanup_ctx.append(relay_cleanup_ctx(settings))`;
- as its own process: `ctsd relay` (`ctsd.bootstrap.relay_forever`);
- from code/tests: `await run_relay(settings, stop_event)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from ctsd.background import stop_task
from ctsd.config import Settings
from ctsd.relay.runner import run_relay

log = logging.getLogger(__name__)

# How long shutdown waits for a batch in flight to be confirmed and recorded.
SHUTDOWN_GRACE = 15.0


def relay_cleanup_ctx(settings: Settings) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp cleanup_ctx entry running the relay beside the server.

    Without `settings.amqp_url` it starts nothing. Several server processes may each run
    one: on PostgreSQL they share the work, on SQLite one relays and the rest stand by.
    """

    async def outbox_relay(_app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_relay(settings, stop), name="ctsd-outbox-relay")
        task.add_done_callback(_report_crash)
        yield
        # Unconfirmed rows stay unsent and go out again (same message id) next start.
        await stop_task(task, stop, SHUTDOWN_GRACE)

    return outbox_relay


def _report_crash(task: asyncio.Task[None]) -> None:
    # run_relay retries every error itself, so this is a bug; say so at once rather
    # than at shutdown, since events now pile up in the outbox unpublished.
    if not task.cancelled() and task.exception() is not None:
        log.critical("outbox relay crashed; events stay in the outbox",
                     exc_info=task.exception())


__all__ = ["relay_cleanup_ctx", "run_relay"]
