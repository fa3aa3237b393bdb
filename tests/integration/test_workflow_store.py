"""Workflow storage on PostgreSQL and SQLite: reminders and removal requests are sent by
exactly one of several concurrent daemons; the migration backfills locations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.db.engine import create_engine
from ctsd.service import CommandBus
from handlers.commands import (
    ExpiryPolicy,
    ImportCompose,
    RemindStalePromotions,
    RequestExpiredRemovals,
    RequestPromotion,
)
from handlers.identity import Actor, Roles
from tests.conftest import compose_info, read_database

DAEMON = Actor("ctsd", superuser=True)
COMPOSE_ID = "test-1.0-20200526.0"


@pytest.fixture
async def buses(database_url: str) -> AsyncIterator[list[CommandBus]]:
    """Two command buses with their own engines, as two daemons have."""
    engines = [create_engine(Settings(database_url=database_url)) for _ in range(2)]
    yield [CommandBus(engine, Roles(), "cts.") for engine in engines]
    for engine in engines:
        await engine.dispose()


def count_topic(url: str, topic: str) -> int:
    return read_database(url, "SELECT count(*) FROM outbox WHERE topic = :t", t=topic)[0][0]


def age_everything(url: str, days: int) -> None:
    """Move every recorded time back, as if the data were `days` old."""
    engine = create_sync_engine(Settings(database_url=url).sync_database_url)
    shift = f"{days} days"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"UPDATE promotion_requests SET requested_at = requested_at - "
                              f"interval '{shift}'"))
            conn.execute(text(f"UPDATE composes SET created_at = created_at - "
                              f"interval '{shift}'"))
        else:
            for table, column in (("promotion_requests", "requested_at"),
                                  ("composes", "created_at")):
                conn.execute(text(f"UPDATE {table} SET {column} = "
                                  f"datetime({column}, '-{shift}')"))
    engine.dispose()


async def test_a_stale_request_is_reminded_by_one_daemon_only(buses, database_url):
    first = buses[0]
    await first.execute(ImportCompose(compose_info()), DAEMON)
    await first.execute(RequestPromotion(COMPOSE_ID, "nightly"), DAEMON)
    age_everything(database_url, 2)
    outcomes = await asyncio.gather(*(bus.execute(RemindStalePromotions(3600), DAEMON)
                                      for bus in buses * 3))
    assert sorted(len(o.body["reminded"]) for o in outcomes) == [0, 0, 0, 0, 0, 1]
    assert count_topic(database_url, "cts.compose-promotion-reminder") == 1
    # The claim moved last_reminded_at: nothing is due until the interval passes again.
    assert (await first.execute(RemindStalePromotions(3600), DAEMON)).body["reminded"] == []


async def test_an_expired_compose_gets_one_removal_request(buses, database_url):
    await buses[0].execute(ImportCompose(compose_info()), DAEMON)
    await buses[0].execute(ImportCompose(compose_info(version="2.0")), DAEMON)
    await buses[0].execute(RequestPromotion("test-2.0-20200526.0", "nightly"), DAEMON)
    age_everything(database_url, 30)
    command = RequestExpiredRemovals((ExpiryPolicy(days=14, release_short="test"),))
    outcomes = await asyncio.gather(*(bus.execute(command, DAEMON) for bus in buses * 2))
    # The second compose is only requested for promotion, not promoted: it expires too.
    requested = sorted(cid for o in outcomes for cid in o.body["requested"])
    assert requested == [COMPOSE_ID, "test-2.0-20200526.0"]
    assert count_topic(database_url, "cts.compose-removal-requested") == 2
    again = await buses[1].execute(command, DAEMON)
    assert again.body["requested"] == []


def test_upgrade_records_existing_urls_as_first_locations(pg_database_url):
    settings = Settings(database_url=pg_database_url)
    migrate.upgrade(settings, "0005")
    engine = create_sync_engine(settings.sync_database_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO composes (compose_id, date, respin, type, final, release_name, "
            "release_short, release_version, release_version_key, release_is_layered, "
            "release_type, release_internal, builder, compose_url, compose_info, created_at) "
            "VALUES ('x-1-20200101.0', '20200101', 0, 'production', false, 'X', 'x', '1', "
            "'1', false, 'ga', false, 'pungi', 'https://old/x', '{}', '2026-01-01T00:00Z')"))
    engine.dispose()
    migrate.upgrade(settings)
    rows = read_database(pg_database_url, 'SELECT url, "user", time FROM compose_locations')
    assert [(row.url, row.user) for row in rows] == [("https://old/x", "pungi")]
