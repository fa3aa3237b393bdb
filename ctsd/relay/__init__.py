"""The outbox relay: publishes the events handlers wrote to the outbox table.

Three ways to run it, all the same loop (`run_relay`):
- inside the HTTP server: `app.cleanup_ctx.append(relay_cleanup_ctx(settings))`;
- as its own process: `ctsd relay` (`run_relay_command`);
- from code/tests: `await run_relay(settings, stop_event)`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from ctsd.background import stop_task
from ctsd.config import Settings
from ctsd.relay.runner import run_relay
from ctsd.relay.transports import relay_configured

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


def run_relay_command(settings: Settings) -> int:
    """`ctsd relay`: relay until SIGINT or SIGTERM."""
    if not relay_configured(settings):
        print("ctsd: messaging.amqp_url (or CTSD_AMQP_URL) is not set: nothing to relay to",
              file=sys.stderr)
        return 2
    asyncio.run(_relay_until_signalled(settings))
    return 0


async def _relay_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_relay(settings, stop)


__all__ = ["relay_cleanup_ctx", "run_relay", "run_relay_command"]
