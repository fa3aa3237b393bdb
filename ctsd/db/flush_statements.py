"""PostgreSQL: what a single command writes at commit, in ONE statement.

At commit the unit of work writes what nothing read back before: the history rows, the
outbox rows and the stored answers of the composes it changed (ctsd.db.uow). Almost
every command writes one history row, one event and at most one answer: on PostgreSQL
those go in one statement of data-modifying CTEs, one round trip instead of three.

A group of commands (ctsd.group_commit) writes its rows with three executemany calls
(CHANGE_ROW, EVENT_ROW, STORE_ANSWER) instead: a multi-row VALUES would be one
statement, but SQLAlchemy cannot cache a multi-row INSERT (it would be compiled again
on every commit), and one CTE per row would leave the order of the rows' ids to
PostgreSQL, which history and outbox order rely on. On PostgreSQL all of them run on
the driver (ctsd.db.driver_rows). tests/unit/test_flush_statements.py holds them to
being cacheable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert

from ctsd.db.rendering import STORE_ANSWER
from ctsd.db.tables import compose_changes, outbox

CHANGE_COLUMNS = ("compose_pk", "time", "action", "user", "message", "user_data",
                  "auth_backend")
EVENT_COLUMNS = ("message_id", "topic", "body", "ordering_key", "in_reply_to",
                 "traceparent", "created_at", "attempts")


# One history row and one outbox row. Every parameter name is prefixed: SQLAlchemy takes
# an unprefixed one that names a column of `composes` (created_at) as another SET column
# of the stored answer's UPDATE, and reserves column names in an executemany's VALUES.
CHANGE_ROW = insert(compose_changes).values(
    {column: bindparam(f"c_{column}", type_=compose_changes.c[column].type)
     for column in CHANGE_COLUMNS})
EVENT_ROW = insert(outbox).values(
    {column: bindparam(f"e_{column}", type_=outbox.c[column].type)
     for column in EVENT_COLUMNS})


def _single_flush_statement(*, with_answer: bool) -> Any:
    """One history row and one outbox row, and with_answer one stored answer."""
    statement = EVENT_ROW.add_cte(CHANGE_ROW.cte("change"))
    if not with_answer:
        return statement
    return statement.add_cte(STORE_ANSWER.cte("stored_answer"))


SINGLE_FLUSH = _single_flush_statement(with_answer=False)
SINGLE_FLUSH_WITH_ANSWER = _single_flush_statement(with_answer=True)


def change_params(change: dict[str, Any]) -> dict[str, Any]:
    """CHANGE_ROW's parameters for a history row (CHANGE_COLUMNS)."""
    return {f"c_{column}": value for column, value in change.items()}


def event_params(event: dict[str, Any]) -> dict[str, Any]:
    """EVENT_ROW's parameters for an outbox row (EVENT_COLUMNS)."""
    return {f"e_{column}": value for column, value in event.items()}


def single_flush_params(change: dict[str, Any], event: dict[str, Any],
                        answer: dict[str, Any] | None) -> dict[str, Any]:
    """The parameters of SINGLE_FLUSH(_WITH_ANSWER): a history row (CHANGE_COLUMNS), an
    outbox row (EVENT_COLUMNS) and rendering.STORE_ANSWER's parameters, if any."""
    return {**change_params(change), **event_params(event), **(answer or {})}
