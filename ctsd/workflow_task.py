"""The workflow's background task in `ctsd serve`: every `[workflow]
check_interval_seconds` it re-announces stale promotion requests and asks for the
removal of expired composes.

Everything goes through the command bus as the system actor, so it is the same write
path as HTTP (one transaction: state, history, outbox). Every server process runs the
task; the claims in the stores make sure that one daemon, not each, sends a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from ctsd.background import stop_task
from ctsd.config import Settings
from ctsd.service import CommandBus
from handlers.commands import RemindStalePromotions, RequestExpiredRemovals
from handlers.identity import Actor

log = logging.getLogger(__name__)

SYSTEM_ACTOR = Actor(username="ctsd", backend="daemon", superuser=True)
SHUTDOWN_GRACE = 10.0


async def run_workflow_pass(bus: CommandBus, settings: Settings) -> None:
    """One pass: reminders, then expiry (each one transaction)."""
    workflow = settings.workflow
    if workflow.reminder_interval_seconds > 0:
        outcome = await bus.execute(
            RemindStalePromotions(workflow.reminder_interval_seconds), SYSTEM_ACTOR)
        if outcome.body["reminded"]:
            log.info("re-announced promotion requests %s", outcome.body["reminded"])
    if workflow.expiry:
        outcome = await bus.execute(
            RequestExpiredRemovals(workflow.expiry, workflow.ladder), SYSTEM_ACTOR)
        if outcome.body["requested"]:
            log.info("asked for removal of expired composes %s", outcome.body["requested"])


async def run_periodically(bus: CommandBus, settings: Settings, stop: asyncio.Event) -> None:
    """A pass every interval (the first after one interval, so that start-up does not
    pay for it) until `stop` is set; errors (a database outage) are logged, not raised."""
    interval = settings.workflow.check_interval_seconds
    while not await _stopped_within(stop, interval):
        try:
            await run_workflow_pass(bus, settings)
        except Exception:
            log.warning("workflow pass failed; trying again in %ss", interval, exc_info=True)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def workflow_cleanup_ctx(settings: Settings, bus_of: Callable[[Any], CommandBus]
                         ) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp cleanup_ctx entry; `bus_of(app)` must answer the command bus by the
    time it starts (ctsd.bootstrap orders it after the write path)."""

    async def workflow(app: Any) -> AsyncIterator[None]:
        workflow = settings.workflow
        if workflow.reminder_interval_seconds <= 0 and not workflow.expiry:
            yield
            return
        stop = asyncio.Event()
        task = asyncio.create_task(run_periodically(bus_of(app), settings, stop),
                                   name="ctsd-workflow")
        yield
        await stop_task(task, stop, SHUTDOWN_GRACE)

    return workflow
