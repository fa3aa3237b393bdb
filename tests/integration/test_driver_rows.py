"""The write path's hot statements run on asyncpg inside SQLAlchemy's transaction
(ctsd.db.driver_rows). They must be part of that transaction (see its writes, be undone
with it), fail with the errors the write path maps, and bind typed values (a JSON
body) as SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, IntegrityError

from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.db.driver_rows import DriverRow, _as_sqlalchemy_error, execute_many, rows_of
from ctsd.db.engine import create_write_engine
from ctsd.db.errors import is_data_error
from ctsd.db.failures import is_transient, sqlstate
from ctsd.db.flush_statements import CHANGE_ROW, EVENT_ROW, change_params, event_params
from ctsd.db.tables import outbox, tags
from tests.conftest import read_database

TAG_NAMED = select(tags.c.id, tags.c.name).where(tags.c.name == bindparam("name"))
NEW_TAG = tags.insert().values(name=bindparam("tag_name"), description="d",
                               documentation="https://docs")


def _event(body: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": "m-1", "topic": "cts.test", "body": body, "ordering_key": None,
            "in_reply_to": None, "traceparent": None,
            "created_at": datetime.now(UTC), "attempts": 0}


async def test_statements_run_in_the_transaction_sqlalchemy_began(pg_url):
    engine = create_write_engine(Settings(database_url=pg_url))
    try:
        async with engine.connect() as conn:
            # Nothing sent yet, so no transaction on the server: the usual path, which
            # sends BEGIN with its statement.
            assert await rows_of(conn, TAG_NAMED, {"name": "x"}) == []
            await conn.execute(NEW_TAG, {"tag_name": "uncommitted"})
            (row,) = await rows_of(conn, TAG_NAMED, {"name": "uncommitted"})
            assert isinstance(row, DriverRow), "in the transaction: on the driver"
            assert row.name == "uncommitted" and row[1] == "uncommitted"
            with pytest.raises(AttributeError):
                _ = row.no_such_column
            await conn.rollback()
            # Rolled back with SQLAlchemy's transaction: it was not a transaction of
            # its own.
            await conn.execute(NEW_TAG, {"tag_name": "other"})
            assert await rows_of(conn, TAG_NAMED, {"name": "uncommitted"}) == []
            await conn.rollback()
    finally:
        await engine.dispose()
    assert read_database(pg_url, "SELECT name FROM tags") == []


@pytest.mark.parametrize("end", ["commit", "rollback"])
async def test_a_first_statement_begins_the_transaction_sqlalchemy_ends(pg_url, end):
    engine = create_write_engine(Settings(database_url=pg_url))
    try:
        async with engine.connect() as conn:
            await conn.begin()  # as every unit of work does; nothing is sent yet
            (row,) = await rows_of(conn, NEW_TAG.returning(tags.c.name),
                                   {"tag_name": "first"})
            assert isinstance(row, DriverRow), "the first statement too, on the driver"
            await (conn.commit() if end == "commit" else conn.rollback())
            assert not (await conn.get_raw_connection()).driver_connection \
                .is_in_transaction()
    finally:
        await engine.dispose()
    names = [row.name for row in read_database(pg_url, "SELECT name FROM tags")]
    assert names == (["first"] if end == "commit" else [])


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_statement_without_rows_answers_none_on_either_path(pg_url, tmp_path,
                                                                    backend):
    # The usual path runs on SQLite and, on PostgreSQL, while tracing is on or before
    # SQLAlchemy began a transaction (this case); the driver path once it has.
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'cts.sqlite'}"
    if backend == "sqlite":
        migrate.upgrade(Settings(database_url=url))
    engine = create_write_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            assert await rows_of(conn, NEW_TAG, {"tag_name": "usual"}) == []
            await conn.commit()
            await conn.begin()
            assert await rows_of(conn, NEW_TAG, {"tag_name": "either"}) == []
            await conn.commit()
    finally:
        await engine.dispose()
    names = sorted(row.name for row in read_database(url, "SELECT name FROM tags"))
    assert names == ["either", "usual"]


async def test_on_sqlite_the_usual_path_answers(tmp_path):
    url = f"sqlite:///{tmp_path / 'cts.sqlite'}"
    migrate.upgrade(Settings(database_url=url))
    engine = create_write_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            await conn.execute(NEW_TAG, {"tag_name": "t"})
            (row,) = await rows_of(conn, TAG_NAMED, {"name": "t"})
            assert isinstance(row, Row) and row.name == "t"
    finally:
        await engine.dispose()


async def test_a_json_body_is_serialized_as_sqlalchemy_would(pg_url):
    engine = create_write_engine(Settings(database_url=pg_url))
    body = {"event": "compose-tagged", "nested": {"list": [1, "two", None]}}
    try:
        async with engine.connect() as conn:
            await conn.execute(NEW_TAG, {"tag_name": "begin"})  # the transaction
            await execute_many(conn, EVENT_ROW, [event_params(_event(body))])
            await conn.commit()
    finally:
        await engine.dispose()
    (stored,) = read_database(pg_url, select(outbox.c.body))
    assert stored.body == body


async def test_a_constraint_failure_is_sqlalchemys_integrity_error(pg_url):
    engine = create_write_engine(Settings(database_url=pg_url))
    change = {"compose_pk": 999_999, "time": datetime.now(UTC), "action": "tagged",
              "user": "u", "message": "m", "user_data": None, "auth_backend": "noauth"}
    try:
        async with engine.connect() as conn:
            await conn.execute(NEW_TAG, {"tag_name": "begin"})
            with pytest.raises(IntegrityError) as raised:
                await execute_many(conn, CHANGE_ROW, [change_params(change)])
            await conn.rollback()
    finally:
        await engine.dispose()
    assert isinstance(raised.value.orig, asyncpg.ForeignKeyViolationError)
    assert sqlstate(raised.value) == "23503"
    assert is_transient(raised.value), "as on the usual path: run the transaction again"


@pytest.mark.parametrize(("error", "transient", "data"), [
    (asyncpg.exceptions.DeadlockDetectedError("deadlock"), True, False),
    (asyncpg.exceptions.SerializationError("serialization"), True, False),
    (asyncpg.exceptions.NumericValueOutOfRangeError("out of range"), False, True),
    (asyncpg.exceptions.UndefinedTableError("no table"), False, False),
])
def test_driver_errors_keep_their_meaning(error, transient, data):
    translated = _as_sqlalchemy_error(None, "SELECT 1", {"secret": "s3"}, error)
    assert isinstance(translated, DBAPIError) and translated.orig is error
    assert is_transient(translated) is transient
    assert is_data_error(translated) is data
    assert "s3" not in str(translated), "parameters are not in the text by default"
