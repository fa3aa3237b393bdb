"""PostgreSQL: what a single command writes at commit, in ONE statement.

At commit the unit of work writes what nothing read back before: the history rows, the
outbox rows and the stored answers of the composes it changed (ctsd.db.uow). Almost
every command writes one history row, one event and at most one answer: on PostgreSQL
those go in one statement of data-modifying CTEs, one round trip instead of three.

A group of commands (ctsd.group_commit), or a command that writes more, writes its
rows in one statement too on PostgreSQL (GROUP_FLUSH): each table's rows are one JSON
parameter (an array of objects keyed by column name, read back with
json_populate_recordset), so the SQL text is the same for any number of rows (a
multi-row VALUES would be compiled again for every size), and the rows are inserted in
the order of the array (`WITH ORDINALITY ... ORDER BY`), so their ids keep the order
that history and outbox order rely on. At c=8 a group is two or three tag changes:
two round trips fewer per group, out of ten. SQLite writes them with three executemany
calls (CHANGE_ROW, EVENT_ROW, STORE_ANSWER). tests/unit/test_flush_statements.py holds
all of them to being cacheable.

The rows were first one array parameter per column: 50 in an import's statement.
asyncpg encodes each array in Cython but asks Python's abstract base classes about
every array and every element (a few hundred isinstance checks per statement), and
PostgreSQL decodes each array apart. Sending 50 such arrays of two rows cost the client
0.13 ms of CPU per statement, against 0.07 for the same rows as JSON texts (one
process, 3,000 statements each).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Integer,
    Table,
    Text,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from ctsd.db.compose_statements import NEW_COMPOSE_COLUMNS
from ctsd.db.rendering import STORE_ANSWER
from ctsd.db.tables import compose_changes, compose_tags, composes, outbox

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


def _array(name: str, item_type: Any) -> Any:
    return bindparam(name, type_=ARRAY(item_type))


def rows_parameter(name: str) -> Any:
    """A parameter that carries many rows: a list of dicts keyed by column name, sent as
    one JSON text (the engine's serializer, orjson, as for every JSON value)."""
    return bindparam(name, type_=JSON)


def unnested(table: Table, name: str, alias: str = "r") -> Any:
    """The rows of the rows_parameter `name` as rows of `table` (a key that is no column
    of it is ignored, a column with no key is NULL), in the list's order: `ordinality`."""
    return func.json_populate_recordset(literal_column(f"NULL::{table.name}"),
                                        rows_parameter(name)) \
        .table_valued(*[column(c.name, c.type) for c in table.columns],
                      with_ordinality="ordinality").alias(alias)


def _unnest_insert(table: Table, columns: tuple[str, ...], name: str) -> Any:
    """INSERT of the rows of the rows_parameter `name`, in the list's order."""
    rows = unnested(table, name)
    return insert(table).from_select(list(columns), select(*[rows.c[c] for c in columns])
                                     .order_by(rows.c.ordinality))


def group_flush_statement(history: Any | None = None) -> Any:
    """GROUP_FLUSH; with `history`, that CTE writes the history rows instead."""
    answers = func.unnest(_array("answer_pks", Integer), _array("answer_texts", Text)) \
        .table_valued(column("pk", Integer), column("text", Text)).render_derived("a")
    store = (update(composes).where(composes.c.pk == answers.c.pk)
             .values(rendered=answers.c.text))
    if history is None:
        history = _unnest_insert(compose_changes, CHANGE_COLUMNS, "c_rows").cte("history")
    return (_unnest_insert(outbox, EVENT_COLUMNS, "e_rows")
            .add_cte(history)
            .add_cte(store.cte("stored_answers")))


# PostgreSQL: any number of stored answers, history rows and outbox rows, in one statement.
GROUP_FLUSH = group_flush_statement()


# PostgreSQL: GROUP_FLUSH with the new compose rows that waited for commit
# (ctsd.db.waiting_composes), inserted first in the same statement: the history rows'
# foreign keys are checked at the statement's end, when the composes are there.
GROUP_FLUSH_WITH_COMPOSES = GROUP_FLUSH.add_cte(
    _unnest_insert(composes, NEW_COMPOSE_COLUMNS, "n_rows").cte("new_composes"))


def _tag_changes_flush_statement() -> Any:
    """GROUP_FLUSH, and the tag changes that waited for commit (SqlComposeStore's
    `tag_changes_to_write`): rows added to and removed from compose_tags, answering how
    many of each it wrote, for the unit of work to hold to what it expected."""
    def pairs(prefix: str, name: str) -> Any:
        return func.unnest(_array(f"{prefix}_pks", Integer), _array(f"{prefix}_ids", Integer)) \
            .table_valued(column("compose_pk", Integer), column("tag_id", Integer)) \
            .render_derived(name)
    adding = pairs("tags_added", "ta")
    added = (postgresql.insert(compose_tags)
             .from_select(["compose_pk", "tag_id"], select(adding.c.compose_pk, adding.c.tag_id))
             .on_conflict_do_nothing().returning(compose_tags.c.tag_id).cte("added"))
    removing = pairs("tags_removed", "tr")
    removed = (delete(compose_tags)
               .where(compose_tags.c.compose_pk == removing.c.compose_pk,
                      compose_tags.c.tag_id == removing.c.tag_id)
               .returning(compose_tags.c.tag_id).cte("removed"))
    flush = GROUP_FLUSH.cte("flushed")
    return select(select(func.count()).select_from(added).scalar_subquery().label("added"),
                  select(func.count()).select_from(removed).scalar_subquery()
                  .label("removed")).add_cte(flush)


# PostgreSQL: GROUP_FLUSH with tag changes (a group of HTTP tag changes: its one write).
GROUP_FLUSH_WITH_TAG_CHANGES = _tag_changes_flush_statement()


def tag_changes_params(added: list[tuple[int, int]],
                       removed: list[tuple[int, int]]) -> dict[str, Any]:
    """GROUP_FLUSH_WITH_TAG_CHANGES's parameters beside group_flush_params'."""
    return {"tags_added_pks": [pk for pk, _ in added],
            "tags_added_ids": [tag_id for _, tag_id in added],
            "tags_removed_pks": [pk for pk, _ in removed],
            "tags_removed_ids": [tag_id for _, tag_id in removed]}


def group_flush_params(changes: list[dict[str, Any]], events: list[dict[str, Any]],
                       answers: list[dict[str, Any]]) -> dict[str, Any]:
    """GROUP_FLUSH's parameters: the history rows (CHANGE_COLUMNS) and the outbox rows
    (EVENT_COLUMNS) in order, each list one JSON parameter; `answers` are
    rendering.STORE_ANSWER's parameter sets (one per compose)."""
    return {
        "answer_pks": [answer["answer_pk"] for answer in answers],
        "answer_texts": [answer["answer_text"] for answer in answers],
        "c_rows": changes,
        "e_rows": events,
    }
