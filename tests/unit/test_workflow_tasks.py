"""Reminders, expiry and ladder tag creation on the in-memory unit of work (no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.commands import (
    DecidePromotion,
    EnsureLadderTags,
    ExpiryPolicy,
    ImportCompose,
    RemindStalePromotions,
    RequestExpiredRemovals,
    RequestPromotion,
    SetComposeUrl,
)
from handlers.errors import Forbidden
from tests.conftest import compose_info
from tests.unit.conftest import ADMIN, ALICE, BUILDER, ROLES
from tests.unit.fakes import FakeDatabase, execute

COMPOSE_ID = "test-1.0-20200526.0"


@pytest.fixture
async def db_with_request(db: FakeDatabase) -> FakeDatabase:
    await execute(db, ImportCompose(compose_info()), ADMIN, ROLES)
    await execute(db, RequestPromotion(COMPOSE_ID, "nightly"), ADMIN, ROLES)
    return db


async def remind(db: FakeDatabase, seconds: int = 3600):
    return await execute(db, RemindStalePromotions(seconds), ADMIN, ROLES)


async def test_a_stale_request_is_reminded_once_per_interval(db_with_request):
    db = db_with_request
    assert (await remind(db))["reminded"] == []  # not stale yet
    db.now += timedelta(hours=1, seconds=1)
    assert (await remind(db))["reminded"] == [1]
    event = db.outbox[-1]
    assert event.event == "compose-promotion-reminder" and event.body["agent"] is None
    assert event.body["promotion"]["state"] == "requested"
    assert event.ordering_key == COMPOSE_ID
    assert (await remind(db))["reminded"] == []  # just reminded
    db.now += timedelta(minutes=59)
    assert (await remind(db))["reminded"] == []
    db.now += timedelta(minutes=2)
    assert (await remind(db))["reminded"] == [1]


async def test_decided_requests_are_not_reminded(db_with_request):
    db = db_with_request
    await execute(db, DecidePromotion(1, "withdraw"), ADMIN, ROLES)
    db.now += timedelta(days=3)
    assert (await remind(db))["reminded"] == []


async def test_expiry_asks_once_for_unpromoted_composes_of_the_policy(db: FakeDatabase):
    await execute(db, ImportCompose(compose_info()), ADMIN, ROLES)
    await execute(db, ImportCompose(compose_info(short="other")), ADMIN, ROLES)
    await execute(db, ImportCompose(compose_info(version="2.0")), ADMIN, ROLES)
    await execute(db, RequestPromotion("test-2.0-20200526.0", "nightly"), ADMIN, ROLES)
    await execute(db, DecidePromotion(1, "perform"), ADMIN, ROLES)
    command = RequestExpiredRemovals((ExpiryPolicy(days=7, release_short="test"),))
    assert (await execute(db, command, ADMIN, ROLES))["requested"] == []  # too young
    db.now += timedelta(days=8)
    assert (await execute(db, command, ADMIN, ROLES))["requested"] == [COMPOSE_ID]
    event = db.outbox[-1]
    assert event.event == "compose-removal-requested"
    assert "not promoted within 7 days" in event.body["reason"]
    assert db.changes_of(COMPOSE_ID)[-1].action == "removal_requested"
    assert (await execute(db, command, ADMIN, ROLES))["requested"] == []  # once only


async def test_ensure_ladder_tags_creates_what_is_missing(db: FakeDatabase):
    answer = await execute(db, EnsureLadderTags(("a", "b", "c")), ADMIN, ROLES)
    assert answer["created"] == ["b", "b-requested", "c", "c-requested"]
    assert (await execute(db, EnsureLadderTags(("a", "b", "c")), ADMIN, ROLES)) == {
        "created": []}


@pytest.mark.parametrize("command", [RemindStalePromotions(60), EnsureLadderTags(),
                                     RequestExpiredRemovals(())])
async def test_maintenance_is_for_admins_only(db: FakeDatabase, command):
    with pytest.raises(Forbidden):
        await execute(db, command, ALICE, ROLES)


async def test_every_location_is_recorded_with_time_and_user(db: FakeDatabase):
    await execute(db, ImportCompose(compose_info(), compose_url="https://a/1"), BUILDER,
                  ROLES)
    await execute(db, SetComposeUrl(COMPOSE_ID, "https://b/1"), ADMIN, ROLES)
    await execute(db, SetComposeUrl(COMPOSE_ID, "https://b/1"), ADMIN, ROLES)  # no-op
    assert [(loc.url, loc.user) for loc in db.compose_locations] == [
        ("https://a/1", "pungi"), ("https://b/1", "admin")]
