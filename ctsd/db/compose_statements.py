"""The compose store's hot statements, built once (per dialect where they differ).

Building `insert().values(...)` per call made SQLAlchemy construct and hash a new
statement each time, which was the largest Python cost of an import.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from sqlalchemy import any_, bindparam, case, delete, func, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import BindParameter

from ctsd.db import kept_answers
from ctsd.db.engine import insert_for
from ctsd.db.representation import REPRESENTATION_ROWS, current_relations
from ctsd.db.tables import compose_tags, composes, respin_counters, tags
from ctsd.db.tag_store import NAMED_TAGS_JSON


@functools.cache
def statements(dialect: str) -> SimpleNamespace:
    """The write statements of one dialect, with bound parameters."""
    insert = insert_for(dialect)
    counter = respin_counters.c.last_respin
    requested: BindParameter[Any] = bindparam("requested")
    postgres = dialect == "postgresql"
    return SimpleNamespace(
        lock_all=LOCK_COMPOSES_ARRAY if postgres else LOCK_COMPOSES,
        lock_all_skip_locked=(LOCK_COMPOSES_ARRAY_SKIP_LOCKED if postgres
                              else LOCK_COMPOSES_SKIP_LOCKED),
        # PostgreSQL: the same, also reading the tags the commands name (SQLite: None).
        lock_all_with_tags=(LOCK_COMPOSES_ARRAY.add_columns(NAMED_TAGS_JSON)
                            if postgres else None),
        lock_all_skip_locked_with_tags=(
            LOCK_COMPOSES_ARRAY_SKIP_LOCKED.add_columns(NAMED_TAGS_JSON)
            if postgres else None),
        bump_counter=_bump_counter(requested, insert).returning(counter),
        add_tag=insert(compose_tags).on_conflict_do_nothing().returning(compose_tags.c.tag_id),
        add_tag_with_relations=_tag_change_with_relations(
            insert(compose_tags).values(compose_pk=bindparam("compose_pk"),
                                        tag_id=bindparam("tag_id"))
            .on_conflict_do_nothing().returning(compose_tags.c.tag_id))
        if dialect == "postgresql" else None,
        claim_then_bump=_claim_then_bump() if dialect == "postgresql" else None,
        # The separate allocator's bump without a claim (an import with its own
        # Idempotency-Key): also takes the new compose's pk (COMPOSE_PK).
        bump_counter_taking_pk=_bump_counter(requested).returning(counter, COMPOSE_PK)
        if dialect == "postgresql" else None,
        remove_tag=delete(compose_tags)
        .where(compose_tags.c.compose_pk == bindparam("compose_pk"),
               compose_tags.c.tag_id == bindparam("tag_id"))
        .returning(compose_tags.c.tag_id),
        remove_tag_with_relations=_tag_change_with_relations(
            delete(compose_tags)
            .where(compose_tags.c.compose_pk == bindparam("compose_pk"),
                   compose_tags.c.tag_id == bindparam("tag_id"))
            .returning(compose_tags.c.tag_id))
        if dialect == "postgresql" else None,
    )


# PostgreSQL: the pk the next compose row gets, taken by the separate respin allocation
# (ctsd.db.respins) in the statement it runs anyway. An import that knows its pk before
# its transaction writes nothing that has to be read back: its row can wait for the
# commit statement (ctsd.db.waiting_composes). A pk taken by an import that then fails
# is a gap, as a rolled-back INSERT leaves one. The sequence is composes.pk's SERIAL one
# (tests/integration/test_composes_at_commit.py holds it to that).
COMPOSE_PK = func.nextval(literal_column("'composes_pk_seq'::regclass")).label("pk")


def _bump_counter(requested: BindParameter[Any], insert: Any = postgresql.insert) -> Any:
    """The requested respin if above the last one handed out, else last+1."""
    counter = respin_counters.c.last_respin
    return (insert(respin_counters)
            .values(stream=bindparam("stream"), last_respin=requested)
            .on_conflict_do_update(
                index_elements=["stream"],
                set_={"last_respin": case((counter >= requested, counter + 1),
                                          else_=requested)}))


def _claim_then_bump() -> Any:
    """PostgreSQL: claim the import's kept answer (ctsd.db.kept_answers) and, only if there
    is none, bump the respin counter, in one statement on the allocator connection.

    Every import without an Idempotency-Key must look for a kept answer first; a
    statement of its own cost an eighth of an import's CPU. Claiming at allocation time
    is equivalent to claiming before the import: a kept answer belongs to an identical
    body, which passes the same checks, and nothing is written before allocation.
    """
    counter = respin_counters.c.last_respin
    requested: BindParameter[Any] = bindparam("requested")
    claimed = kept_answers.CLAIM.cte("claimed")
    nothing_kept = ~select(claimed.c.response).exists()
    bumped = (
        postgresql.insert(respin_counters)
        .from_select(["stream", "last_respin"],
                     select(bindparam("stream", type_=respin_counters.c.stream.type),
                            requested).where(nothing_kept))
        .on_conflict_do_update(
            index_elements=["stream"],
            set_={"last_respin": case((counter >= requested, counter + 1), else_=requested)},
        )
        .returning(counter, COMPOSE_PK)
        .cte("bumped")
    )
    return select(select(bumped.c.last_respin).scalar_subquery().label("respin"),
                  select(claimed.c.response).scalar_subquery().label("kept"),
                  select(bumped.c.pk).scalar_subquery().label("pk"))


def _tag_change_with_relations(change: Any) -> Any:
    """PostgreSQL: run an insert into / delete from compose_tags (RETURNING tag_id) and
    answer the changed tag's name (NULL: nothing changed) with the compose's relations
    as they were before it: the representation after the change then needs no query of
    its own. The compose is locked before this statement starts, so what it reads is
    current (ctsd.db.representation.current_relations)."""
    changed = change.cte("changed")
    name = (select(tags.c.name).join(changed, changed.c.tag_id == tags.c.id)
            .scalar_subquery().label("changed_name"))
    return select(name, *current_relations(bindparam("compose_pk")))


# What an import writes: every column but those later changes set. Named parameters
# (prefixed: SQLAlchemy reserves column names in VALUES), since a statement sent on the
# driver (ctsd.db.driver_rows) must name its own: an INSERT without values names all.
IMPORTED_COLUMNS = tuple(column.name for column in composes.c if column.name not in {
    "pk", "build_status", "removed_at", "removed_reason"})
INSERT_COMPOSE = composes.insert().values({
    name: bindparam(f"new_{name}", type_=composes.c[name].type)
    for name in IMPORTED_COLUMNS}).returning(composes.c.pk)
# PostgreSQL: the same with the pk its allocation took (COMPOSE_PK).
NEW_COMPOSE_COLUMNS = ("pk", *IMPORTED_COLUMNS)
INSERT_COMPOSE_WITH_PK = composes.insert().values({
    name: bindparam(f"new_{name}", type_=composes.c[name].type)
    for name in NEW_COMPOSE_COLUMNS}).returning(composes.c.pk)
# Locks the compose row and reads what its representation needs in the same trip, so
# the message about the change only has to ask for tags and lineage afterwards.
# Not the tags themselves: a statement that waited for the lock still sees the data as
# it was when it started, so tags read here could predate the change that held the
# lock (tests/integration/test_concurrency.py); a later statement sees them as they are.
LOCK_COMPOSE = (
    REPRESENTATION_ROWS.add_columns(composes.c.compose_id)
    .where(composes.c.compose_id == bindparam("compose_id"))
    .with_for_update(of=composes)
)


def _lock_in_pk_order(ids: Any) -> Any:
    """Every compose a group or a batch names, in pk order: one trip for all, and two
    transactions locking overlapping composes take them in the same order."""
    return (REPRESENTATION_ROWS.add_columns(composes.c.compose_id)
            .where(ids).order_by(composes.c.pk).with_for_update(of=composes))


LOCK_COMPOSES = _lock_in_pk_order(
    composes.c.compose_id.in_(bindparam("compose_ids", expanding=True)))
# PostgreSQL: the ids as one array parameter. An expanding IN list is rendered again for
# every execution, and cannot be sent on the driver (ctsd.db.driver_rows).
LOCK_COMPOSES_ARRAY = _lock_in_pk_order(composes.c.compose_id == any_(
    bindparam("compose_ids", type_=postgresql.ARRAY(composes.c.compose_id.type))))
# For a group of HTTP commands (ctsd.group_commit): composes another transaction holds
# are skipped, and their commands run alone, so that one long transaction elsewhere
# (a contents import, say) holds up only the commands on its own compose.
LOCK_COMPOSES_SKIP_LOCKED = LOCK_COMPOSES.with_for_update(of=composes, skip_locked=True)
LOCK_COMPOSES_ARRAY_SKIP_LOCKED = LOCK_COMPOSES_ARRAY.with_for_update(of=composes,
                                                                      skip_locked=True)
