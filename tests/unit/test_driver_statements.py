"""Statements compiled once for the driver (ctsd.db.driver_statements): parameters in
the driver's order, literals SQLAlchemy bound itself kept, a parameter the caller must
give never silently NULL, and a typed value processed as SQLAlchemy would."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from ctsd.db.compose_statements import INSERT_COMPOSE, statements
from ctsd.db.driver_statements import DriverStatement
from ctsd.db.flush_statements import EVENT_ROW

DIALECT = create_async_engine("postgresql+asyncpg://nobody@localhost/none",
                              json_serializer=lambda value: f"json:{sorted(value)}").dialect


def test_literals_are_kept_and_parameters_come_in_the_drivers_order():
    bump = DriverStatement.compile(statements("postgresql").bump_counter, DIALECT)
    arguments = bump.arguments({"requested": 3, "stream": "s"})
    assert arguments[:2] == ["s", 3] and "$1" in bump.sql and "$2" in bump.sql
    assert list(bump.defaults.values()) == [1], "the `+ 1` of the counter"


def test_a_parameter_left_out_is_an_error_not_a_null():
    insert = DriverStatement.compile(INSERT_COMPOSE, DIALECT)
    assert insert.defaults == {}
    with pytest.raises(KeyError):
        insert.arguments({"new_compose_id": "x"})


def test_a_json_value_is_serialized_by_the_engines_serializer():
    event = DriverStatement.compile(EVENT_ROW, DIALECT)
    values = dict(zip(event.names, event.arguments(
        {name: {"b": 1, "a": 2} if name == "e_body" else None for name in event.names}),
        strict=True))
    assert values["e_body"] == "json:['a', 'b']"
    assert values["e_topic"] is None, "untyped values pass unchanged"
