"""A few hot statements run on asyncpg's own pool, compiled once by SQLAlchemy.

SQLAlchemy's pool and execution layer cost about 250 µs of CPU around a statement that
PostgreSQL runs in 20 (measured for the stored-answer lookup, ctsd.db.stored_answers);
for the statements every import or GET runs, that was a large share of the request.
Here such a statement is compiled once, with SQLAlchemy, for the asyncpg dialect and
run on a small asyncpg pool. Callers keep the SQLAlchemy path for every failure: the
errors callers map (503 for an outage, retries for conflicts) are SQLAlchemy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, Dialect


@dataclass(frozen=True)
class DriverStatement:
    """SQL text with numbered parameters, and how to fill them from named values."""

    sql: str
    names: tuple[str, ...]
    # Values SQLAlchemy bound itself (literals in the statement, such as `+ 1`).
    defaults: dict[str, Any]

    @classmethod
    def compile(cls, statement: Any, dialect: Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        return cls(compiled.string, tuple(compiled.positiontup or ()),
                   dict(compiled.params))

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] if name in params else self.defaults[name]
                for name in self.names]


async def _keep_session(_connection: Any) -> None:
    """asyncpg resets a connection's session state on release (a round trip each
    time); statements run here change none."""


async def driver_pool(url: URL, max_size: int,
                      server_settings: dict[str, str] | None = None) -> asyncpg.Pool:
    """An asyncpg pool to the PostgreSQL database `url` names (any driver in it); it
    connects on first use, so a database away at start-up costs nothing here."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.create_pool(dsn, min_size=0, max_size=max_size,
                                     reset=_keep_session, server_settings=server_settings)
