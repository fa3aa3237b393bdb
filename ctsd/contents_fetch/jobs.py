"""Claiming and releasing fetch jobs (`contents_fetch_jobs`, queued by the handlers in
the transaction that gave a compose its location).

A claim sets a lease: until `lease_until` no other daemon takes the job; a daemon that
dies mid-fetch simply lets the lease run out. On PostgreSQL the candidate row is picked
with FOR UPDATE SKIP LOCKED, so daemons claiming at once never wait on each other nor
take the same job. Each claim counts as an attempt, crashed ones included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.db.contents_tables import contents_fetch_jobs
from ctsd.db.engine import open_write_connection
from ctsd.db.tables import composes

_jobs = contents_fetch_jobs.c


@dataclass(frozen=True)
class ClaimedJob:
    compose_pk: int
    compose_id: str
    url: str
    attempts: int  # including this one


async def claim_job(engine: AsyncEngine, daemon: str, now: datetime,
                    lease: timedelta) -> ClaimedJob | None:
    """Lease one due job to `daemon`, or None when none is due."""
    candidates = (select(_jobs.compose_pk)
                  .where(_jobs.state == "pending", _jobs.next_attempt_at <= now,
                         or_(_jobs.lease_until.is_(None), _jobs.lease_until < now))
                  .order_by(_jobs.next_attempt_at).limit(1))
    due = candidates.with_for_update(skip_locked=True)
    # Look before taking the write lock: an idle daemon polls, and on SQLite every write
    # transaction locks the whole database for everyone.
    async with engine.connect() as reader:
        if (await reader.execute(candidates)).first() is None:
            return None
    claim = (update(contents_fetch_jobs)
             .where(_jobs.compose_pk == due.scalar_subquery())
             .values(lease_until=now + lease, leased_by=daemon,
                     attempts=_jobs.attempts + 1, updated_at=now)
             .returning(_jobs.compose_pk, _jobs.url, _jobs.attempts))
    conn = await open_write_connection(engine)
    try:
        async with conn.begin():
            row = (await conn.execute(claim)).first()
            if row is None:
                return None
            compose_id = (await conn.execute(select(composes.c.compose_id)
                                             .where(composes.c.pk == row.compose_pk))).scalar_one()
    finally:
        await conn.close()
    return ClaimedJob(row.compose_pk, compose_id, row.url, row.attempts)


async def retry_later(engine: AsyncEngine, job: ClaimedJob, daemon: str, reason: str, *,
                      next_attempt_at: datetime, now: datetime) -> None:
    """Give the job back (if this daemon still holds it) to be tried again later."""
    conn = await open_write_connection(engine)
    try:
        async with conn.begin():
            await conn.execute(
                update(contents_fetch_jobs)
                .where(_jobs.compose_pk == job.compose_pk, _jobs.leased_by == daemon,
                       _jobs.state == "pending", _jobs.url == job.url)
                .values(lease_until=None, leased_by=None, last_error=reason[:2000],
                        next_attempt_at=next_attempt_at, updated_at=now))
    finally:
        await conn.close()
