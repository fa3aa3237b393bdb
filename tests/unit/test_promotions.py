"""Promotion ladder handlers on the in-memory unit of work (no I/O)."""

from __future__ import annotations

import pytest

from handlers.commands import (
    ChangeTagPermission,
    CreateTag,
    DecidePromotion,
    ImportCompose,
    MarkRemoved,
    RequestPromotion,
    SetTagGates,
    TagCompose,
)
from handlers.errors import Conflict, Forbidden, InvalidInput, NotFound
from handlers.promotions import current_state
from tests.conftest import compose_info
from tests.unit.conftest import ADMIN, ALICE, BOB, MALLORY, ROLES
from tests.unit.fakes import FakeDatabase, execute

COMPOSE_ID = "test-1.0-20200526.0"


@pytest.fixture
async def db_with_compose(db: FakeDatabase) -> FakeDatabase:
    await execute(db, ImportCompose(compose_info()), ADMIN, ROLES)
    return db


async def request(db: FakeDatabase, to: str = "nightly", actor=ADMIN, **kwargs):
    return await execute(db, RequestPromotion(COMPOSE_ID, to, **kwargs), actor, ROLES)


async def decide(db: FakeDatabase, request_id: int, decision: str, actor=ADMIN,
                 reason: str | None = None):
    return await execute(db, DecidePromotion(request_id, decision, reason), actor, ROLES)


def tags_of(db: FakeDatabase) -> list[str]:
    pk = db.compose_pk(COMPOSE_ID)
    return sorted(db.tags[t].name for c, t in db.compose_tags if c == pk)


def events(db: FakeDatabase) -> list[str]:
    return [event.event for event in db.outbox]


def test_current_state_is_the_highest_ladder_tag():
    ladder = ("periodic", "nightly", "milestone-candidate", "milestone")
    assert current_state([], ladder) == "periodic"
    assert current_state(["qa-passed", "nightly"], ladder) == "nightly"
    assert current_state(["milestone-candidate", "nightly"], ladder) == "milestone-candidate"


async def test_request_tags_records_history_and_announces(db_with_compose):
    db = db_with_compose
    answer = await request(db, reason="best of the week", user_data="RHELCMP-1")
    assert answer["from"] == "periodic" and answer["to"] == "nightly"
    assert answer["state"] == "requested" and answer["requested_by"] == "admin"
    assert answer["reason"] == "best of the week"
    assert answer["requested_at"] == "2026-11-24T12:00:00Z"
    assert tags_of(db) == ["nightly-requested"]
    assert [c.action for c in db.changes_of(COMPOSE_ID)] == [
        "created", "tagged", "promotion_requested"]
    assert events(db) == ["compose-created", "compose-tagged", "compose-promotion-requested"]
    body = db.outbox[-1].body
    assert body["promotion"] == answer and body["agent"] == "admin"
    assert body["compose"]["tags"] == ["nightly-requested"]


async def test_perform_adds_the_state_tag_and_clears_the_request(db_with_compose):
    db = db_with_compose
    made = await request(db)
    done = await decide(db, made["id"], "perform", reason="ok")
    assert done["state"] == "performed" and done["decided_by"] == "admin"
    assert done["decision_reason"] == "ok"
    assert tags_of(db) == ["nightly"]
    assert events(db)[-3:] == ["compose-tagged", "compose-untagged", "compose-promoted"]
    assert db.outbox[-2].body["tag"] == "nightly-requested"
    assert db.outbox[-3].body["tag"] == "nightly"
    assert db.changes_of(COMPOSE_ID)[-1].action == "promoted"


async def test_the_whole_ladder_one_step_at_a_time(db_with_compose):
    db = db_with_compose
    for state in ("nightly", "milestone-candidate", "milestone"):
        made = await request(db, state)
        await decide(db, made["id"], "perform")
    assert tags_of(db) == ["milestone", "milestone-candidate", "nightly"]


@pytest.mark.parametrize(("to", "error", "text"), [
    ("gold", InvalidInput, "Unknown promotion state"),
    ("periodic", InvalidInput, "where every compose starts"),
    ("milestone", Conflict, "cannot be skipped"),
    (None, InvalidInput, "Unknown promotion state"),
])
async def test_bad_targets_are_refused_and_change_nothing(db_with_compose, to, error, text):
    db = db_with_compose
    before = (len(db.outbox), len(db.compose_changes), set(db.tags))
    with pytest.raises(error, match=text):
        await request(db, to)
    assert (len(db.outbox), len(db.compose_changes), set(db.tags)) == before
    assert db.promotion_requests == {}


async def test_a_second_pending_request_conflicts(db_with_compose):
    db = db_with_compose
    await request(db)
    with pytest.raises(Conflict, match="already has pending promotion request 1"):
        await request(db)


async def test_already_in_that_state_conflicts(db_with_compose):
    db = db_with_compose
    await decide(db, (await request(db))["id"], "perform")
    with pytest.raises(Conflict, match="already nightly"):
        await request(db, "nightly")


async def test_reject_needs_a_reason_and_then_clears_the_request(db_with_compose):
    db = db_with_compose
    made = await request(db)
    with pytest.raises(InvalidInput, match='"reason" is required'):
        await decide(db, made["id"], "reject")
    done = await decide(db, made["id"], "reject", reason="install fails")
    assert done["state"] == "rejected" and done["decision_reason"] == "install fails"
    assert tags_of(db) == []
    assert events(db)[-2:] == ["compose-untagged", "compose-promotion-rejected"]


@pytest.mark.parametrize("first", ["reject", "withdraw", "perform"])
@pytest.mark.parametrize("second", ["perform", "reject", "withdraw"])
async def test_a_decided_request_cannot_be_decided_again(db_with_compose, first, second):
    db = db_with_compose
    made = await request(db)
    await decide(db, made["id"], first, reason="r")
    before = len(db.outbox)
    with pytest.raises(Conflict, match=f"already {first}"):
        await decide(db, made["id"], second, reason="again")
    assert len(db.outbox) == before


async def test_a_removed_compose_cannot_be_promoted(db_with_compose):
    db = db_with_compose
    await execute(db, MarkRemoved(COMPOSE_ID, "gone"), ADMIN, ROLES)
    with pytest.raises(Conflict, match="was removed"):
        await request(db)


async def test_unknown_request_is_404(db_with_compose):
    with pytest.raises(NotFound):
        await decide(db_with_compose, 99, "perform")


async def test_unknown_decision_is_400(db_with_compose):
    made = await request(db_with_compose)
    with pytest.raises(InvalidInput, match="Unknown decision"):
        await decide(db_with_compose, made["id"], "approve")


async def grant(db: FakeDatabase, tag: str, action: str, user: str) -> None:
    await execute(db, ChangeTagPermission(tag, action, username=user), ADMIN, ROLES)


async def test_permissions_go_through_the_ladder_tags(db_with_compose):
    db = db_with_compose
    with pytest.raises(Forbidden, match="nightly-requested"):
        await request(db, actor=ALICE)
    assert "nightly-requested" not in {t.name for t in db.tags.values()}  # rolled back
    await request(db, "nightly", actor=ADMIN)  # creates the ladder tags
    await decide(db, 1, "withdraw")
    await grant(db, "nightly-requested", "add_tagger", "alice")
    made = await request(db, actor=ALICE)
    with pytest.raises(Forbidden, match="does not have \"taggers\" permission"):
        await decide(db, made["id"], "perform", actor=BOB)
    await execute(db, CreateTag("nightly", "d", "https://d"), ADMIN, ROLES)
    await grant(db, "nightly", "add_tagger", "bob")
    done = await decide(db, made["id"], "perform", actor=BOB)
    assert done["decided_by"] == "bob"


async def test_the_requester_may_withdraw_but_not_reject(db_with_compose):
    db = db_with_compose
    await request(db)
    await decide(db, 1, "withdraw")
    await grant(db, "nightly-requested", "add_tagger", "alice")
    made = await request(db, actor=ALICE)
    with pytest.raises(Forbidden, match="untagger"):
        await decide(db, made["id"], "reject", actor=ALICE, reason="no")
    with pytest.raises(Forbidden):
        await decide(db, made["id"], "withdraw", actor=MALLORY)
    done = await decide(db, made["id"], "withdraw", actor=ALICE)
    assert done["state"] == "withdrawn"


async def test_gates_hold_for_promotions(db_with_compose):
    db = db_with_compose
    for name in ("qa-passed", "nightly"):
        await execute(db, CreateTag(name, "d", "https://d"), ADMIN, ROLES)
    await execute(db, SetTagGates("nightly", requires=("qa-passed",)), ADMIN, ROLES)
    made = await request(db)
    before = len(db.outbox)
    with pytest.raises(Conflict, match="requires qa-passed"):
        await decide(db, made["id"], "perform")
    assert len(db.outbox) == before
    assert db.promotion_requests[made["id"]].record.state == "requested"
    await execute(db, TagCompose(COMPOSE_ID, "qa-passed"), ADMIN, ROLES)
    assert (await decide(db, made["id"], "perform"))["state"] == "performed"


async def test_v1_tagging_of_a_request_tag_just_tags(db_with_compose):
    db = db_with_compose
    await execute(db, CreateTag("nightly-requested", "d", "https://d"), ADMIN, ROLES)
    await execute(db, TagCompose(COMPOSE_ID, "nightly-requested"), ADMIN, ROLES)
    assert tags_of(db) == ["nightly-requested"]
    assert db.promotion_requests == {}
    assert events(db)[-1] == "compose-tagged"


async def test_custom_ladder(db_with_compose):
    db = db_with_compose
    ladder = ("built", "verified")
    answer = await execute(db, RequestPromotion(COMPOSE_ID, "verified", ladder=ladder),
                           ADMIN, ROLES)
    assert answer["from"] == "built"
    with pytest.raises(InvalidInput, match="verified"):
        await execute(db, RequestPromotion(COMPOSE_ID, "nightly", ladder=ladder), ADMIN,
                      ROLES)
