"""The fetch task of `ctsd serve`: claim a due job, download the compose's rpms.json
(and images.json when there is one), import them through the command bus (the job is
completed in the import's own transaction), or give the job back with its error and a
backoff; after `[contents] max_attempts` tries the failure is recorded on the compose
(`GET /api/1/composes/{id}/contents/`, and a history row)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp

from ctsd.background import stop_task
from ctsd.config import Settings
from ctsd.contents_fetch.download import FetchError, fetch_metadata
from ctsd.contents_fetch.jobs import ClaimedJob, claim_job, retry_later
from ctsd.db.uow import utcnow
from ctsd.service import CommandBus
from handlers.contents_commands import ImportComposeContents, RecordContentsFetchFailure
from handlers.errors import CommandError
from handlers.identity import Actor

log = logging.getLogger(__name__)

FETCH_ACTOR = Actor(username="ctsd-contents-fetch", backend="daemon", superuser=True)


class Fetcher:
    def __init__(self, bus: CommandBus, settings: Settings) -> None:
        self.bus = bus
        self.settings = settings
        self.config = settings.contents
        self.daemon = f"{socket.gethostname()}:{os.getpid()}"

    async def run_one(self, session: aiohttp.ClientSession) -> bool:
        """Claim and run one due job; False when there was none."""
        now = utcnow()
        job = await claim_job(self.bus.engine, self.daemon, now,
                              timedelta(seconds=self.config.lease_seconds))
        if job is None:
            return False
        try:
            await self._import(session, job)
            log.info("fetched the contents of %s from %s", job.compose_id, job.url)
        except (FetchError, CommandError) as exc:
            await self._failed(job, str(exc))
        return True

    async def _import(self, session: aiohttp.ClientSession, job: ClaimedJob) -> None:
        limit = self.settings.contents_max_bytes
        rpms = await fetch_metadata(session, job.url, "rpms.json", limit)
        images = await fetch_metadata(session, job.url, "images.json", limit, optional=True)
        await self.bus.execute(ImportComposeContents(
            job.compose_id, "rpms", rpms, fetch_url=None if images else job.url), FETCH_ACTOR)
        if images is not None:
            await self.bus.execute(ImportComposeContents(
                job.compose_id, "images", images, fetch_url=job.url), FETCH_ACTOR)

    async def _failed(self, job: ClaimedJob, reason: str) -> None:
        if job.attempts >= self.config.max_attempts:
            log.warning("giving up fetching contents of %s: %s", job.compose_id, reason)
            await self.bus.execute(RecordContentsFetchFailure(
                job.compose_id, f"{reason} (after {job.attempts} tries)"), FETCH_ACTOR)
            return
        now = utcnow()
        delay = timedelta(seconds=self.config.backoff(job.attempts))
        log.info("fetching contents of %s failed (%s); again in %s", job.compose_id,
                 reason, delay)
        await retry_later(self.bus.engine, job, self.daemon, reason,
                          next_attempt_at=now + delay, now=now)

    async def run(self, stop: asyncio.Event) -> None:
        """Run due jobs back to back; when there is none, look again after poll_seconds.
        The first look is one interval after start-up, as the workflow task does, so
        that start-up (and a test's first moments) see no background database work."""
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds,
                                        sock_connect=min(10.0, self.config.timeout_seconds))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            busy = False
            while not stop.is_set():
                if not busy:
                    await _wait(stop, self.config.poll_seconds)
                    if stop.is_set():
                        break
                try:
                    busy = await self.run_one(session)
                except Exception:
                    log.warning("contents fetch pass failed", exc_info=True)
                    busy = False


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def contents_fetch_cleanup_ctx(settings: Settings, bus_of: Callable[[Any], CommandBus]
                               ) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp cleanup_ctx entry; must come after the one that opens the write path
    (`bus_of(app)` answers its command bus)."""

    async def contents_fetch(app: Any) -> AsyncIterator[None]:
        if not settings.contents.fetch:
            yield
            return
        stop = asyncio.Event()
        task = asyncio.create_task(Fetcher(bus_of(app), settings).run(stop),
                                   name="ctsd-contents-fetch")
        yield
        await stop_task(task, stop, 5.0)

    return contents_fetch
