"""PostgreSQL: everything a transaction writes at commit in ONE statement.

At commit the unit of work writes what nothing read back before: the history rows, the
outbox rows and the stored answers of the composes it changed (ctsd.db.uow). On
PostgreSQL they go in one statement of data-modifying CTEs, however many commands a
group committed together (ctsd.group_commit): one round trip instead of three. The
statement for each shape (how many of each) is built once.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, insert, update

from ctsd.db.tables import compose_changes, composes, outbox

CHANGE_COLUMNS = ("compose_pk", "time", "action", "user", "message", "user_data",
                  "auth_backend")
EVENT_COLUMNS = ("message_id", "topic", "body", "ordering_key", "in_reply_to",
                 "traceparent", "created_at", "attempts")


@functools.cache
def flush_statement(changes: int, events: int, answers: int) -> Any:
    """The statement writing `changes` history rows, `events` outbox rows and `answers`
    stored answers (at least one thing in all); its parameters come from flush_params.

    Every parameter name is prefixed: SQLAlchemy takes an unprefixed one that names a
    column of `composes` (created_at) as another SET column of an answer's UPDATE."""
    parts: list[Any] = []
    if changes:
        parts.append(insert(compose_changes).values([
            {column: bindparam(f"c{i}_{column}", type_=compose_changes.c[column].type)
             for column in CHANGE_COLUMNS} for i in range(changes)]))
    parts.extend(
        update(composes).where(composes.c.pk == bindparam(f"a{i}_pk"))
        .values(rendered=bindparam(f"a{i}_text")) for i in range(answers))
    if events:
        parts.append(insert(outbox).values([
            {column: bindparam(f"e{i}_{column}", type_=outbox.c[column].type)
             for column in EVENT_COLUMNS} for i in range(events)]))
    *first, last = parts
    if not first:
        return last
    return last.add_cte(*(part.cte(f"w{i}") for i, part in enumerate(first)))


def flush_params(changes: list[dict[str, Any]], events: list[dict[str, Any]],
                 answers: list[dict[str, Any]]) -> dict[str, Any]:
    """flush_statement's parameters: history rows (CHANGE_COLUMNS), outbox rows
    (EVENT_COLUMNS) and stored answers (rendering.STORE_ANSWER's answer_pk, answer_text)."""
    params: dict[str, Any] = {}
    for i, row in enumerate(changes):
        params.update({f"c{i}_{column}": value for column, value in row.items()})
    for i, row in enumerate(events):
        params.update({f"e{i}_{column}": value for column, value in row.items()})
    for i, answer in enumerate(answers):
        params[f"a{i}_pk"] = answer["answer_pk"]
        params[f"a{i}_text"] = answer["answer_text"]
    return params
