"""The write path's statements must be cacheable by SQLAlchemy: an uncacheable one is
compiled again on every execution (a multi-row INSERT was, and that compiling was the
largest Python cost of a grouped tag). Also: the single-command flush statement writes
its rows with the parameters single_flush_params gives it."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict
from sqlalchemy.dialects import postgresql

from ctsd.db.compose_statements import (
    INSERT_COMPOSE,
    LOCK_COMPOSE,
    LOCK_COMPOSES,
    LOCK_COMPOSES_ARRAY,
    LOCK_COMPOSES_ARRAY_SKIP_LOCKED,
    LOCK_COMPOSES_SKIP_LOCKED,
    statements,
)
from ctsd.db.flush_statements import (
    CHANGE_COLUMNS,
    CHANGE_ROW,
    EVENT_COLUMNS,
    EVENT_ROW,
    GROUP_FLUSH,
    GROUP_FLUSH_WITH_TAG_CHANGES,
    SINGLE_FLUSH,
    SINGLE_FLUSH_WITH_ANSWER,
    group_flush_params,
    single_flush_params,
)
from ctsd.db.queries import filters
from ctsd.db.queries.compose_lists import offset_listing
from ctsd.db.rendering import FORGET_ANSWERS, FORGET_TAGGED_ANSWERS, STORE_ANSWER


def _listing() -> Any:
    query = MultiDict([("release_short", "x"), ("tag", "a"), ("tag", "-b")])
    order = filters.order_clauses(query, filters.COMPOSE_FIELDS, ["-date", "-id"],
                                  tiebreaker="id")
    return offset_listing(filters.compose_conditions(query, "postgresql"), order)


PG = statements("postgresql")
STATEMENTS = {
    "single flush": SINGLE_FLUSH, "single flush with answer": SINGLE_FLUSH_WITH_ANSWER,
    "group flush": GROUP_FLUSH, "group flush with tag changes": GROUP_FLUSH_WITH_TAG_CHANGES,
    "group history rows": CHANGE_ROW, "group outbox rows": EVENT_ROW,
    "store answer": STORE_ANSWER, "forget answers": FORGET_ANSWERS,
    "forget tagged answers": FORGET_TAGGED_ANSWERS, "lock": LOCK_COMPOSE,
    "lock all": LOCK_COMPOSES, "lock all, skip locked": LOCK_COMPOSES_SKIP_LOCKED,
    "lock all (array)": LOCK_COMPOSES_ARRAY,
    "lock all (array), skip locked": LOCK_COMPOSES_ARRAY_SKIP_LOCKED,
    "lock all (array) with tags": PG.lock_all_with_tags,
    "lock all (array), skip locked, with tags": PG.lock_all_skip_locked_with_tags,
    "insert compose": INSERT_COMPOSE, "bump respin": PG.bump_counter,
    "claim then bump": PG.claim_then_bump, "tag": PG.add_tag_with_relations,
    "untag": PG.remove_tag_with_relations, "list page": _listing().forward,
    "list page from the end": _listing().backward, "list total": _listing().total,
}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statement_is_cacheable(name):
    assert STATEMENTS[name]._generate_cache_key() is not None


def test_single_flush_binds_every_column_it_writes():
    change = {column: f"c-{column}" for column in CHANGE_COLUMNS}
    event = {column: f"e-{column}" for column in EVENT_COLUMNS}
    params = single_flush_params(change, event, {"answer_pk": 7, "answer_text": "{}"})
    compiled = SINGLE_FLUSH_WITH_ANSWER.compile(dialect=postgresql.dialect())
    assert set(compiled.construct_params(params)) == set(params)
    assert "UPDATE composes SET rendered" in compiled.string
    assert "created_at" not in compiled.string.split("UPDATE composes SET")[1].split(
        "WHERE")[0], "only rendered is set on composes"


def test_group_flush_binds_every_column_it_writes():
    change = {column: f"c-{column}" for column in CHANGE_COLUMNS}
    event = {column: f"e-{column}" for column in EVENT_COLUMNS}
    params = group_flush_params([change, change], [event], [{"answer_pk": 7,
                                                              "answer_text": "{}"}])
    compiled = GROUP_FLUSH.compile(dialect=postgresql.dialect())
    assert set(compiled.construct_params(params)) == set(params)
    assert params["c_message"] == ["c-message", "c-message"]
    assert params["e_body"] == ['"e-body"'], "the body goes as JSON text"
    assert "ORDER BY r.n" in compiled.string, "rows inserted in the order written"
