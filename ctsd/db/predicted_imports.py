"""PostgreSQL: a group of imports whose respins were predicted, written in ONE statement
that also allocates them.

An HTTP import allocated ahead (ctsd.allocations_ahead) waits for two round trips: its
allocation, then its group's commit statement. Under create at c=8 that wait, not CPU,
bounded ctsd: the workers were 55-60 % busy. Most imports start a stream (a new
release, version or date), whose respin is simply the one asked for; so the process
predicts the respin (ctsd.respin_predictions), the handler builds the compose with it,
and the commit statement checks the prediction while it bumps the counters:

- `claimed` takes the kept answer of each import that may have one (ctsd.db.kept_answers);
- `bumped` bumps each stream's counter as the separate allocator would (in stream
  order, like every batch of allocations, so that two statements lock counters in the
  same order);
- the compose rows are inserted only if every counter gave the predicted respin and no
  kept answer was found. Else cts_respin_prediction_failed (migration 0015) raises
  SQLSTATE CT409: the statement, the whole transaction, is undone, and the group runs
  again the usual way (CommandBus).

A predicted import has no pk before the statement: its row takes one from the sequence
when inserted, and its history rows carry a placeholder (a negative number, unique in
the transaction) that the statement maps to that pk through the compose id. A group may
also hold imports allocated ahead (their rows carry their pk) and history rows of
composes that existed before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    case,
    column,
    delete,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.compose_statements import COMPOSE_PK, NEW_COMPOSE_COLUMNS
from ctsd.db.driver_rows import rows_of
from ctsd.db.failures import sqlstate
from ctsd.db.flush_statements import (
    CHANGE_COLUMNS,
    group_flush_statement,
    rows_parameter,
    unnested,
)
from ctsd.db.tables import compose_changes, composes, idempotency_keys, respin_counters
from ctsd.observability.service_metrics import record_predictions

# Raised by cts_respin_prediction_failed (migration 0015).
PREDICTION_FAILED_SQLSTATE = "CT409"


class PredictionUnusable(Exception):
    """A predicted import needs something only a compose row with its pk can give
    before commit (a later statement reads it, or it writes more rows): the group runs
    again the usual way, as when the prediction was wrong."""


def is_prediction_failure(exc: BaseException) -> bool:
    """Whether the transaction failed because of its predicted respins (then running it
    again without predictions is the answer)."""
    return isinstance(exc, PredictionUnusable) or (
        isinstance(exc, DBAPIError) and sqlstate(exc) == PREDICTION_FAILED_SQLSTATE)


@dataclass(frozen=True)
class PredictedImport:
    """One import's predicted respin, and the kept answer it may claim
    (KeptAnswerClaim.parameters), if any."""

    stream: str
    requested: int
    respin: int
    claim: dict[str, Any] | None = None


def _checked_allocations() -> Any:
    """True if every predicted respin is the one its counter gives, and no kept answer
    was claimed; else an error that undoes the statement."""
    wanted = func.json_to_recordset(rows_parameter("p_rows")).table_valued(
        column("stream", String(255)), column("requested", Integer),
        column("respin", Integer), column("username", String(255)),
        column("key", String(255)), column("since", DateTime(timezone=True)),
    ).render_derived("w", with_types=True)
    wanted_rows = select(wanted).cte("wanted")
    keys = idempotency_keys.c
    claimed = (delete(idempotency_keys)
               .where(keys.username == wanted_rows.c.username, keys.key == wanted_rows.c.key,
                      keys.created_at > wanted_rows.c.since)
               .returning(keys.key).cte("claimed"))
    bump = postgresql.insert(respin_counters).from_select(
        ["stream", "last_respin"],
        select(wanted_rows.c.stream, wanted_rows.c.requested).order_by(wanted_rows.c.stream))
    counter, asked = respin_counters.c.last_respin, bump.excluded.last_respin
    bumped = (bump.on_conflict_do_update(
        index_elements=["stream"],
        set_={"last_respin": case((counter >= asked, counter + 1), else_=asked)})
        .returning(respin_counters.c.stream, counter).cte("bumped"))
    wrong = (select(func.count())
             .select_from(wanted_rows.outerjoin(bumped, bumped.c.stream == wanted_rows.c.stream))
             .where(bumped.c.last_respin.is_distinct_from(wanted_rows.c.respin))
             .scalar_subquery())
    kept = select(func.count()).select_from(claimed).scalar_subquery()
    return case((wrong + kept == 0, true()),
                else_=func.cts_respin_prediction_failed(wrong + kept, type_=Boolean))


def _statement() -> Any:
    # The compose rows sent, read from their JSON parameter once: the INSERT takes them,
    # and the placeholders' mapping reads each one's pk as sent.
    doc = unnested(composes, "n_rows")
    sent = select(*[doc.c[name] for name in NEW_COMPOSE_COLUMNS], doc.c.ordinality).cte("sent")
    values: dict[str, Any] = {name: sent.c[name] for name in NEW_COMPOSE_COLUMNS}
    # A predicted import's row takes its pk here; one allocated ahead brings its own.
    values["pk"] = case((sent.c.pk > 0, sent.c.pk), else_=COMPOSE_PK.element)
    new_composes = (insert(composes).from_select(
        list(NEW_COMPOSE_COLUMNS),
        select(*values.values()).where(_checked_allocations()).order_by(sent.c.ordinality))
        .returning(composes.c.pk, composes.c.compose_id).cte("new_composes"))
    new_pks = (select(sent.c.pk.label("placeholder"), new_composes.c.pk)
               .join_from(sent, new_composes, new_composes.c.compose_id == sent.c.compose_id)
               .cte("new_pks"))
    changes = unnested(compose_changes, "c_rows")
    change_values = {name: changes.c[name] for name in CHANGE_COLUMNS}
    change_values["compose_pk"] = func.coalesce(new_pks.c.pk, changes.c.compose_pk)
    history = insert(compose_changes).from_select(
        list(CHANGE_COLUMNS),
        select(*change_values.values())
        .select_from(changes.outerjoin(new_pks, new_pks.c.placeholder == changes.c.compose_pk))
        .order_by(changes.c.ordinality)).cte("history")
    return group_flush_statement(history)


# GROUP_FLUSH_WITH_COMPOSES for a group with predicted imports: its parameters, and
# predicted_params'.
GROUP_FLUSH_WITH_PREDICTED_COMPOSES = _statement()


def predicted_params(predicted: list[PredictedImport]) -> dict[str, Any]:
    """GROUP_FLUSH_WITH_PREDICTED_COMPOSES's parameters for the predictions, in order."""
    def claim(item: PredictedImport, name: str) -> Any:
        return item.claim[name] if item.claim is not None else None
    return {"p_rows": [{"stream": item.stream, "requested": item.requested,
                        "respin": item.respin, "username": claim(item, "lost_username"),
                        "key": claim(item, "lost_key"), "since": claim(item, "lost_since")}
                       for item in predicted]}


async def write_predicted_group(conn: AsyncConnection, params: dict[str, Any],
                                predicted: list[PredictedImport]) -> None:
    """GROUP_FLUSH_WITH_PREDICTED_COMPOSES as the transaction's one statement, with
    GROUP_FLUSH_WITH_COMPOSES's `params`; its predictions counted, held or undone."""
    try:
        await rows_of(conn, GROUP_FLUSH_WITH_PREDICTED_COMPOSES,
                      {**params, **predicted_params(predicted)}, last=True)
    except Exception as exc:
        if is_prediction_failure(exc):
            record_predictions(len(predicted), held=False)
        raise
    record_predictions(len(predicted), held=True)
