"""A few hot statements run on asyncpg's own pool, compiled once by SQLAlchemy.

SQLAlchemy's pool and execution layer cost about 250 µs of CPU around a statement that
PostgreSQL runs in 20 (measured for the stored-answer lookup, ctsd.db.stored_answers);
for the statements every import or GET runs, that was a large share of the request.
Here such a statement is compiled once, with SQLAlchemy, for the asyncpg dialect and
run on a small asyncpg pool. Callers keep the SQLAlchemy path for every failure: the
errors callers map (503 for an outage, retries for conflicts) are SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    # What the parameter's type does to a value before the driver sees it, where it
    # does anything (a JSON column's value is serialized with the engine's serializer).
    processors: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # A SELECT, or DML with RETURNING of its own (not the primary key SQLAlchemy may
    # add to an INSERT's text for itself).
    returns_rows: bool = True

    @classmethod
    def compile(cls, statement: Any, dialect: Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        processors = {name: processor for name in names
                      if (processor := compiled.binds[name].type.bind_processor(dialect))}
        # A parameter the caller must give has no default: leaving it out is a KeyError,
        # not a NULL.
        defaults = {name: value for name, value in compiled.params.items()
                    if not compiled.binds[name].required}
        returns_rows = bool(getattr(statement, "is_select", False)
                            or getattr(statement, "returning_column_descriptions", None))
        return cls(compiled.string, names, defaults, processors, returns_rows)

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = [params[name] if name in params else self.defaults[name]
                  for name in self.names]
        if self.processors:
            values = [self.processors[name](value) if name in self.processors else value
                      for name, value in zip(self.names, values, strict=True)]
        return values


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
