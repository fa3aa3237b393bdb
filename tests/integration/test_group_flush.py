"""A group's rows in one statement (ctsd.db.flush_statements.GROUP_FLUSH): history and
outbox rows get ids in the order the unit of work wrote them, whichever compose they
belong to, bodies are stored as the engine stores JSON, and each changed compose's
answer is stored; on the driver and on SQLAlchemy's usual path alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ctsd.config import Settings
from ctsd.db.driver_rows import rows_of
from ctsd.db.engine import create_write_engine
from ctsd.db.flush_statements import GROUP_FLUSH, group_flush_params
from ctsd.db.tables import compose_changes, composes, outbox
from handlers.commands import ImportCompose
from tests.conftest import compose_info, read_database
from tests.relaying import ADMIN, command_bus

ROWS = 40


async def _two_composes(pg_url: str) -> list[int]:
    async with command_bus(Settings(database_url=pg_url)) as bus:
        for short in ("first", "second"):
            await bus.execute(ImportCompose(compose_info(short=short)), ADMIN)
    return [row.pk for row in read_database(pg_url, select(composes.c.pk)
                                            .order_by(composes.c.pk))]


def _rows(pks: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows alternating between the composes, newest compose first, so that neither the
    compose nor the time orders them as written."""
    now = datetime.now(UTC)
    changes, events = [], []
    for n in range(ROWS):
        pk = pks[(n + 1) % 2]
        changes.append({"compose_pk": pk, "time": now - timedelta(seconds=n),
                        "action": "tagged", "user": "u", "message": f"change {n}",
                        "user_data": None if n % 3 else f"data {n}", "auth_backend": "noauth"})
        events.append({"message_id": f"m-{n:03}-{ROWS - n}", "topic": "cts.compose-tagged",
                       "body": {"n": n, "nested": [n, None, "x"]}, "ordering_key": str(pk),
                       "in_reply_to": None, "traceparent": None, "created_at": now,
                       "attempts": 0})
    return changes, events


@pytest.mark.parametrize("path", ["driver", "usual"])
async def test_rows_keep_their_order_and_answers_are_stored(pg_url, path):
    pks = await _two_composes(pg_url)
    changes, events = _rows(pks)
    answers = [{"answer_pk": pk, "answer_text": f'{{"stored": {pk}}}'} for pk in pks]
    before = len(read_database(pg_url, select(compose_changes.c.id)))
    engine = create_write_engine(Settings(database_url=pg_url))
    try:
        async with engine.connect() as conn:
            if path == "driver":  # a statement first: the transaction is on the server
                await conn.execute(select(composes.c.pk).limit(1))
            await rows_of(conn, GROUP_FLUSH, group_flush_params(changes, events, answers))
            await conn.commit()
    finally:
        await engine.dispose()
    history = read_database(pg_url, select(compose_changes.c.message, compose_changes.c.
                                           user_data).order_by(compose_changes.c.id))[before:]
    assert [(row.message, row.user_data) for row in history] == \
        [(change["message"], change["user_data"]) for change in changes]
    sent = read_database(pg_url, select(outbox.c.message_id, outbox.c.body)
                         .where(outbox.c.topic == "cts.compose-tagged").order_by(outbox.c.id))
    assert [(row.message_id, row.body) for row in sent] == \
        [(event["message_id"], event["body"]) for event in events]
    stored = read_database(pg_url, select(composes.c.pk, composes.c.rendered))
    assert {row.pk: row.rendered for row in stored} == \
        {answer["answer_pk"]: answer["answer_text"] for answer in answers}


async def test_nothing_to_write_is_a_statement_that_writes_nothing(pg_url):
    pks = await _two_composes(pg_url)
    rendered = read_database(pg_url, select(composes.c.rendered).order_by(composes.c.pk))
    engine = create_write_engine(Settings(database_url=pg_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(select(composes.c.pk).limit(1))
            await rows_of(conn, GROUP_FLUSH, group_flush_params([], [], []))
    finally:
        await engine.dispose()
    assert read_database(pg_url, select(composes.c.rendered).order_by(composes.c.pk)) \
        == rendered and len(pks) == 2
