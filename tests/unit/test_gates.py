"""Chained tag gates on the in-memory unit of work (no I/O)."""

from __future__ import annotations

import pytest

from handlers.commands import CreateTag, ImportCompose, SetTagGates, TagCompose, UntagCompose
from handlers.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.conftest import compose_info
from tests.unit.conftest import ADMIN, ALICE, ROLES
from tests.unit.fakes import FakeDatabase, execute

COMPOSE_ID = "test-1.0-20200526.0"
TAGS = ("installability-passed", "qa-passed", "broken", "gold")


@pytest.fixture
async def tagged_db(db: FakeDatabase) -> FakeDatabase:
    await execute(db, ImportCompose(compose_info()), ADMIN, ROLES)
    for name in TAGS:
        await execute(db, CreateTag(name, "d", "https://d"), ADMIN, ROLES)
    return db


async def gates(db, tag, requires=(), excludes=(), actor=ADMIN):
    return await execute(db, SetTagGates(tag, tuple(requires), tuple(excludes)), actor, ROLES)


async def tag(db, name):
    return await execute(db, TagCompose(COMPOSE_ID, name), ADMIN, ROLES)


async def test_a_missing_prerequisite_refuses_the_tag_and_names_it(tagged_db):
    db = tagged_db
    assert await gates(db, "qa-passed", requires=["installability-passed"]) == {
        "requires": ["installability-passed"], "excludes": []}
    before = (len(db.outbox), len(db.compose_changes), set(db.compose_tags))
    with pytest.raises(Conflict, match="requires installability-passed") as refused:
        await tag(db, "qa-passed")
    assert refused.value.status == 409
    assert (len(db.outbox), len(db.compose_changes), set(db.compose_tags)) == before
    await tag(db, "installability-passed")
    assert "qa-passed" in (await tag(db, "qa-passed"))["tags"]


async def test_a_present_excluded_tag_refuses_the_tag(tagged_db):
    db = tagged_db
    await gates(db, "gold", excludes=["broken"])
    await tag(db, "broken")
    with pytest.raises(Conflict, match="while it has broken"):
        await tag(db, "gold")
    await execute(db, UntagCompose(COMPOSE_ID, "broken"), ADMIN, ROLES)
    assert "gold" in (await tag(db, "gold"))["tags"]


async def test_changing_gates_writes_tag_history_once(tagged_db):
    db = tagged_db
    await gates(db, "qa-passed", requires=["installability-passed"])
    await gates(db, "qa-passed", requires=["installability-passed"])
    assert [c.action for c in db.tag_history("qa-passed")] == ["created", "gates_changed"]
    assert await gates(db, "qa-passed") == {"requires": [], "excludes": []}
    assert len(db.tag_history("qa-passed")) == 3


@pytest.mark.parametrize(("requires", "excludes", "text"), [
    (["nope"], [], "unknown tag"),
    ([], ["nope"], "unknown tag"),
    (["qa-passed"], [], "cannot gate itself"),
    (["broken"], ["broken"], "both required and excluded"),
    ("broken", [], "must be a list"),
    ([1], [], "must be a list"),
])
async def test_bad_gates_are_400_and_change_nothing(tagged_db, requires, excludes, text):
    db = tagged_db
    with pytest.raises(InvalidInput, match=text):
        await execute(db, SetTagGates("qa-passed", requires, excludes), ADMIN, ROLES)
    assert db.tag_gates == set()


async def test_a_requirement_loop_is_refused(tagged_db):
    db = tagged_db
    await gates(db, "qa-passed", requires=["installability-passed"])
    await gates(db, "installability-passed", requires=["gold"])
    with pytest.raises(InvalidInput, match="loop: gold requires qa-passed requires "
                                           "installability-passed requires gold"):
        await gates(db, "gold", requires=["qa-passed"])
    assert len(db.tag_gates) == 2


async def test_only_admins_set_gates_and_the_tag_must_exist(tagged_db):
    with pytest.raises(Forbidden):
        await gates(tagged_db, "qa-passed", actor=ALICE)
    with pytest.raises(NotFound):
        await gates(tagged_db, "missing")


async def test_retagging_stays_a_no_op_after_a_prerequisite_went(tagged_db):
    db = tagged_db
    await gates(db, "qa-passed", requires=["installability-passed"])
    await tag(db, "installability-passed")
    await tag(db, "qa-passed")
    await execute(db, UntagCompose(COMPOSE_ID, "installability-passed"), ADMIN, ROLES)
    before = len(db.outbox)
    assert "qa-passed" in (await tag(db, "qa-passed"))["tags"]
    assert len(db.outbox) == before
