"""Stopping the daemon's background tasks (relay, outbox retention, workflow) alike."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[None], stop: asyncio.Event, grace: float) -> None:
    """Ask the task to finish (set `stop`), wait up to `grace` seconds, then cancel it.

    The tasks stop at a safe point when asked; cancelling is the last resort, and what
    they do is safe to cut short (an unfinished transaction rolls back).
    """
    stop.set()
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.warning("%s did not stop within %ss; cancelling it", task.get_name(), grace)
        task.cancel()
        await asyncio.wait({task})
