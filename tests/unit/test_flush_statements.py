"""The write path's statements must be cacheable by SQLAlchemy: an uncacheable one is
compiled again on every execution (a multi-row INSERT was, and that compiling was the
largest Python cost of a grouped tag). Also: the single-command flush statement writes
its rows with the parameters single_flush_params gives it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from multidict import MultiDict
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import asyncpg

from ctsd.db.compose_statements import (
    INSERT_COMPOSE,
    LOCK_COMPOSE,
    LOCK_COMPOSES,
    LOCK_COMPOSES_ARRAY,
    LOCK_COMPOSES_ARRAY_SKIP_LOCKED,
    LOCK_COMPOSES_SKIP_LOCKED,
    statements,
)
from ctsd.db.driver_statements import DriverStatement
from ctsd.db.engine import json_column_text
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
    assert params["c_rows"] == [change, change]
    assert params["e_rows"] == [event]
    event_rows = DriverStatement.compile(GROUP_FLUSH, asyncpg.dialect())
    sent = dict(zip(event_rows.names, event_rows.arguments(params), strict=True))
    assert json.loads(sent["e_rows"]) == [event], "each table's rows go as one JSON text"
    assert "ORDER BY r.ordinality" in compiled.string, "rows inserted in the order written"


def test_rows_with_an_integer_orjson_refuses_are_still_sent():
    # The standard library's fallback (ctsd.jsonio) writes the rows' timestamps too.
    when = datetime(2026, 12, 7, 14, 12, 13, 482373, tzinfo=UTC)
    event = {column: None for column in EVENT_COLUMNS} | {"body": {"n": 2 ** 70},
                                                           "created_at": when}
    statement = DriverStatement.compile(GROUP_FLUSH, asyncpg.dialect(
        json_serializer=json_column_text))
    sent = dict(zip(statement.names, statement.arguments(group_flush_params([], [event], [])),
                    strict=True))
    assert json.loads(sent["e_rows"]) == [
        event | {"created_at": "2026-12-07T14:12:13.482373+00:00"}]
