"""The hottest read, GET /api/1/composes/{id}, answered straight from the driver.

On PostgreSQL a compose's stored answer (composes.rendered, ctsd.db.rendering) is one
indexed lookup; through SQLAlchemy's pool and execution layer that lookup cost about
350 µs of CPU, on asyncpg's own pool about 110 µs (measured in one process, 3,000
lookups each). This module keeps a small asyncpg pool for it and answers only the
positive case: a compose that has a stored answer. Anything else (an unknown id, a row
from before migration 0012, an error of any kind, the database away) is left to the
usual SQLAlchemy path, which owns the 404, the live rendering and the 503 mapping, so
the answers and errors callers see do not depend on this shortcut.

Off on SQLite, and while tracing is on: statements run here are not instrumented, and a
traced request should show its query.
"""

from __future__ import annotations

import logging

import asyncpg
from sqlalchemy.engine import make_url

from ctsd.config import Settings
from ctsd.db.driver_statements import driver_pool
from ctsd.observability import tracing

log = logging.getLogger(__name__)

_LOOKUP = "SELECT rendered FROM composes WHERE compose_id = $1"
# Never more connections than the main pool: these only add to it.
_MAX_CONNECTIONS = 4


class StoredAnswerLookup:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def answer(self, compose_id: str) -> str | None:
        """The compose's stored answer (JSON text), or None: ask the usual path."""
        try:
            return await self._pool.fetchval(_LOOKUP, compose_id)  # type: ignore[no-any-return]
        except Exception as exc:  # the usual path reports it as it always has
            log.debug("stored answer lookup of %r failed: %r", compose_id, exc)
            return None

    async def close(self) -> None:
        await self._pool.close()


async def open_stored_answer_lookup(settings: Settings) -> StoredAnswerLookup | None:
    """The lookup for PostgreSQL without tracing, or None (then every GET takes the
    SQLAlchemy path). The pool connects on first use (min_size 0): a database that is
    away at start-up costs nothing here."""
    if settings.is_sqlite or tracing.enabled():
        return None
    try:
        pool = await driver_pool(make_url(settings.async_database_url),
                                 min(_MAX_CONNECTIONS, settings.database_pool_size))
    except Exception as exc:
        log.warning("GET /api/1/composes/{id} takes the SQLAlchemy path only: %r", exc)
        return None
    return StoredAnswerLookup(pool)
