"""The composition root: what every entry point (`ctsd serve`, `ctsd consume`,
`ctsd relay`, the admin CLI) builds the same way from the settings.

- `roles_from`: the configured roles;
- `open_write_path`: the engines, the dialect's respin strategy and the command bus;
- `serve_background_tasks`: the tasks `ctsd serve` runs beside the HTTP API;
- `relay_forever`: `ctsd relay`, the outbox relay as a process of its own.

It imports no HTTP module, so `ctsd consume` and the CLI do not load the API.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.config import Settings
from ctsd.contents_fetch.worker import contents_fetch_cleanup_ctx
from ctsd.db.engine import (
    create_allocator_engine,
    create_engine,
    create_write_engine,
    read_only,
)
from ctsd.db.respins import respins_for
from ctsd.db.sqlite_checkpoint import checkpoints_in_background
from ctsd.outbox_retention import retention_cleanup_ctx
from ctsd.relay import relay_cleanup_ctx, run_relay
from ctsd.relay.transports import relay_configured
from ctsd.service import CommandBus
from ctsd.workflow_task import workflow_cleanup_ctx
from handlers.identity import Roles

CleanupContext = Callable[[Any], AsyncIterator[None]]


def roles_from(settings: Settings) -> Roles:
    """The roles `[auth.admins]` and `[auth.allowed_builders]` give."""
    return Roles(admins=settings.admins, allowed_builders=settings.allowed_builders)


@dataclass(frozen=True)
class WritePath:
    """What a process needs to change CTS state (and, for the API, to read it)."""

    bus: CommandBus
    # Views only read: on PostgreSQL this engine autocommits (ctsd.db.engine.read_only).
    read_engine: AsyncEngine


@asynccontextmanager
async def open_write_path(settings: Settings, *, gapless_respins: bool = False,
                          group_commit: bool = False) -> AsyncIterator[WritePath]:
    """The main engine, the respin allocator pool (PostgreSQL) and the command bus over
    them; the engines are disposed of on leaving.

    `gapless_respins`: allocate respins inside each command's own transaction, as on
    SQLite, so that a process killed mid-transaction leaves no gap in a stream's respins.
    The bus consumer asks for it: a killed consumer's batch is redelivered and must come
    out as if it had run once. The price is that its batch holds the stream's counter
    row until it commits; an HTTP import of the same stream waits that long.

    `group_commit`: concurrent HTTP imports and tag changes share transactions
    (ctsd.group_commit); `ctsd serve` asks for it when [database] group_commit is on.
    """
    engine = create_write_engine(settings)
    # Reads get a pool of their own. SQLite: the write engine has one connection
    # (writes queue in the process). PostgreSQL: the write engine's connections plan
    # generically, which suits the write path's statements and not list queries.
    reads = create_engine(settings)
    allocator = None if gapless_respins else create_allocator_engine(settings)
    respins = respins_for(allocator)
    try:
        bus = CommandBus(engine, roles_from(settings), settings.topic_prefix,
                         timedelta(hours=settings.idempotency_ttl_hours),
                         respins, group_commit=group_commit,
                         group_transactions=settings.group_commit_transactions)
        async with AsyncExitStack() as beside:
            if settings.is_sqlite:
                # The write engine's connection leaves checkpoints to this task.
                await beside.enter_async_context(
                    checkpoints_in_background(settings.async_database_url, engine))
            yield WritePath(bus, read_only(reads))
    finally:
        await engine.dispose()
        await reads.dispose()
        await respins.dispose()  # the allocator's pools, if it has any


def serve_background_tasks(settings: Settings,
                           bus_of: Callable[[Any], CommandBus]) -> list[CleanupContext]:
    """The aiohttp cleanup_ctx entries `ctsd serve` runs after the write path is open:
    the outbox relay (nothing without a broker), outbox retention, and the workflow's
    reminders and expiry, and the fetch of queued compose contents (both through the
    bus `bus_of(app)` answers)."""
    return [relay_cleanup_ctx(settings), retention_cleanup_ctx(settings),
            workflow_cleanup_ctx(settings, bus_of), contents_fetch_cleanup_ctx(settings, bus_of)]


def relay_forever(settings: Settings) -> int:
    """`ctsd relay`: publish the outbox until SIGINT or SIGTERM; the exit status."""
    if not relay_configured(settings):
        print("ctsd: messaging.amqp_url (or CTSD_AMQP_URL) is not set: nothing to relay to",
              file=sys.stderr)
        return 2
    asyncio.run(until_signalled(lambda stop: _relay(settings, stop)))
    return 0


async def _relay(settings: Settings, stop: asyncio.Event) -> None:
    engine = create_engine(settings)
    try:
        await run_relay(settings, stop, engine=engine)
    finally:
        await engine.dispose()


async def until_signalled(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run a process's main loop until SIGINT or SIGTERM sets the event it watches."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run(stop)
