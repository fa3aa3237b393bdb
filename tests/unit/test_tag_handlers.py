"""Tag handlers (create, edit, taggers and untaggers) over the in-memory unit of work."""

from __future__ import annotations

import copy

import pytest

from handlers.commands import ChangeTagPermission, CreateTag, EditTag, ImportCompose, TagCompose
from handlers.errors import Forbidden, InvalidInput, NotFound
from handlers.identity import ANONYMOUS, Actor
from tests.conftest import compose_info
from tests.unit.conftest import ADMIN, ALICE, BUILDER, GROUP_ADMIN, MALLORY, ROLES
from tests.unit.fakes import FIXED_NOW, Change, FakeDatabase, execute


def nightly(**overrides: str) -> CreateTag:
    fields = {"name": "nightly", "description": "Nightly composes",
              "documentation": "https://docs.example.com/nightly"}
    fields.update(overrides)
    return CreateTag(**fields)


@pytest.fixture
async def tag_db(db: FakeDatabase) -> FakeDatabase:
    await execute(db, nightly(), ADMIN, ROLES)
    return db


def actions(db: FakeDatabase, name: str = "nightly") -> list[str]:
    return [change.action for change in db.tag_history(name)]


# --- create ---------------------------------------------------------------------------


async def test_create_answers_the_tag_and_records_who_created_it(db):
    answer = await execute(db, nightly(user_data="ticket-7"), ADMIN, ROLES)
    assert answer == {
        "id": 1, "name": "nightly", "description": "Nightly composes",
        "documentation": "https://docs.example.com/nightly",
        "taggers": [], "untaggers": [], "tagger_groups": [], "untagger_groups": [],
    }
    assert db.tag_changes == [
        Change(1, FIXED_NOW, "created", "admin", "Tag nightly created", "ticket-7")
    ]
    # Tag management publishes nothing: there is no tag topic in messages.md.
    assert db.outbox == []


@pytest.mark.parametrize("actor", [ADMIN, GROUP_ADMIN, ANONYMOUS])
async def test_admins_may_create_tags(db, actor):
    await execute(db, nightly(), actor, ROLES)
    assert [t.name for t in db.tags.values()] == ["nightly"]


@pytest.mark.parametrize("actor", [BUILDER, MALLORY])
async def test_non_admins_may_not_create_tags(db, actor):
    with pytest.raises(Forbidden, match=actor.username):
        await execute(db, nightly(), actor, ROLES)
    assert db == FakeDatabase()


async def test_duplicate_name_is_invalid_input_and_nothing_is_written(tag_db):
    before = copy.deepcopy(tag_db)
    with pytest.raises(InvalidInput, match="nightly already exists"):
        await execute(tag_db, nightly(description="another"), ADMIN, ROLES)
    assert tag_db == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": ""}, "name"),
    ({"name": "two words"}, "name"),
    ({"name": " nightly"}, "name"),
    ({"name": "-nightly"}, "name"),
    ({"name": "1234"}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"description": ""}, "description"),
    ({"description": "   "}, "description"),
    ({"documentation": ""}, "documentation"),
])
async def test_create_refuses_invalid_fields(db, overrides, field):
    with pytest.raises(InvalidInput) as refused:
        await execute(db, nightly(**overrides), ADMIN, ROLES)
    assert f'"{field}"' in refused.value.message
    assert db == FakeDatabase()


async def test_create_refuses_missing_fields(db):
    with pytest.raises(InvalidInput, match='"documentation"'):
        await execute(db, CreateTag("nightly", "Nightly", None), ADMIN, ROLES)  # type: ignore[arg-type]
    assert db.tags == {}


# --- edit -----------------------------------------------------------------------------


async def test_edit_changes_fields_and_writes_one_history_row(tag_db):
    answer = await execute(tag_db, EditTag("nightly", description="Every night",
                                           documentation="https://new", user_data="t-1"),
                           ADMIN, ROLES)
    assert (answer["description"], answer["documentation"]) == ("Every night", "https://new")
    assert tag_db.tag_history("nightly")[1:] == [
        Change(1, FIXED_NOW, "edited", "admin", "description changed, documentation changed",
               "t-1")
    ]


async def test_edit_with_unchanged_values_writes_nothing(tag_db):
    before = copy.deepcopy(tag_db)
    answer = await execute(tag_db, EditTag("nightly", name="nightly",
                                           description="Nightly composes"), ADMIN, ROLES)
    assert answer["description"] == "Nightly composes"
    await execute(tag_db, EditTag("nightly"), ADMIN, ROLES)
    assert tag_db == before


async def test_edit_summarises_only_the_fields_that_changed(tag_db):
    await execute(tag_db, EditTag("nightly", name="nightly", description="Every night"),
                  ADMIN, ROLES)
    assert tag_db.tag_history("nightly")[-1].message == "description changed"


async def test_rename_by_id_moves_the_name(tag_db):
    answer = await execute(tag_db, EditTag("1", name="nightly-old"), ADMIN, ROLES)
    assert answer["name"] == "nightly-old"
    assert [t.name for t in tag_db.tags.values()] == ["nightly-old"]
    assert actions(tag_db, "nightly-old") == ["created", "edited"]


async def test_rename_to_a_taken_name_is_invalid_input(tag_db):
    await execute(tag_db, nightly(name="stable"), ADMIN, ROLES)
    before = copy.deepcopy(tag_db)
    with pytest.raises(InvalidInput, match="stable already exists"):
        await execute(tag_db, EditTag("nightly", name="stable", description="x"), ADMIN, ROLES)
    assert tag_db == before


async def test_edit_refuses_invalid_values(tag_db):
    before = copy.deepcopy(tag_db)
    for command in (EditTag("nightly", name="-x"), EditTag("nightly", description=""),
                    EditTag("nightly", documentation="  ")):
        with pytest.raises(InvalidInput):
            await execute(tag_db, command, ADMIN, ROLES)
    assert tag_db == before


async def test_edit_of_unknown_tag_is_not_found_and_non_admins_are_forbidden(tag_db):
    with pytest.raises(NotFound, match="No such tag found"):
        await execute(tag_db, EditTag("stable", description="x"), ADMIN, ROLES)
    with pytest.raises(Forbidden):
        await execute(tag_db, EditTag("nightly", description="x"), BUILDER, ROLES)
    assert actions(tag_db) == ["created"]


async def test_edit_may_change_a_permission_in_the_same_command(tag_db):
    permission = ChangeTagPermission("nightly", "add_tagger", "alice")
    answer = await execute(tag_db, EditTag("nightly", description="Every night",
                                           permission=permission), ADMIN, ROLES)
    assert (answer["description"], answer["taggers"]) == ("Every night", ["alice"])
    assert actions(tag_db) == ["created", "edited", "add_tagger"]


# --- taggers and untaggers ------------------------------------------------------------


async def test_add_tagger_user_and_group_in_one_command(tag_db):
    answer = await execute(tag_db, ChangeTagPermission("nightly", "add_tagger", "alice", "qe",
                                                       "ticket-3"), ADMIN, ROLES)
    assert (answer["taggers"], answer["tagger_groups"]) == (["alice"], ["qe"])
    assert (answer["untaggers"], answer["untagger_groups"]) == ([], [])
    assert tag_db.tag_history("nightly")[1:] == [
        Change(1, FIXED_NOW, "add_tagger", "admin",
               'Tagger permission granted to user "alice".', "ticket-3"),
        Change(1, FIXED_NOW, "add_tagger", "admin",
               'Tagger permission granted to group "qe".', "ticket-3"),
    ]


async def test_re_adding_a_tagger_writes_no_second_history_row(tag_db):
    for _ in range(3):
        answer = await execute(tag_db, ChangeTagPermission("nightly", "add_tagger", "alice"),
                               ADMIN, ROLES)
        assert answer["taggers"] == ["alice"]
    assert actions(tag_db) == ["created", "add_tagger"]


async def test_removing_is_recorded_once_and_removing_an_absent_one_not_at_all(tag_db):
    await execute(tag_db, ChangeTagPermission("nightly", "add_untagger", None, "qe"), ADMIN,
                  ROLES)
    for _ in range(2):
        answer = await execute(tag_db, ChangeTagPermission("nightly", "remove_untagger",
                                                           None, "qe"), ADMIN, ROLES)
        assert answer["untagger_groups"] == []
    await execute(tag_db, ChangeTagPermission("nightly", "remove_tagger", "nobody"), ADMIN,
                  ROLES)
    assert actions(tag_db) == ["created", "add_untagger", "remove_untagger"]


async def test_taggers_and_untaggers_are_separate_lists(tag_db):
    await execute(tag_db, ChangeTagPermission("nightly", "add_untagger", "alice"), ADMIN, ROLES)
    answer = await execute(tag_db, ChangeTagPermission("nightly", "remove_tagger", "alice"),
                           ADMIN, ROLES)
    assert (answer["taggers"], answer["untaggers"]) == ([], ["alice"])
    assert actions(tag_db) == ["created", "add_untagger"]


@pytest.mark.parametrize(("command", "message"), [
    (ChangeTagPermission("nightly", "add_owner", "alice"), "Unknown action"),
    (ChangeTagPermission("nightly", "add_tagger"), '"username" and/or "group"'),
    (ChangeTagPermission("nightly", "add_tagger", ""), '"username"'),
    (ChangeTagPermission("nightly", "add_tagger", "alice", " "), '"group"'),
    (ChangeTagPermission("nightly", "add_tagger", "a" * 256), '"username"'),
])
async def test_permission_changes_refuse_invalid_input(tag_db, command, message):
    before = copy.deepcopy(tag_db)
    with pytest.raises(InvalidInput, match=message):
        await execute(tag_db, command, ADMIN, ROLES)
    assert tag_db == before


async def test_permission_changes_need_an_admin_and_an_existing_tag(tag_db):
    with pytest.raises(Forbidden):
        await execute(tag_db, ChangeTagPermission("nightly", "add_tagger", "mallory"),
                      MALLORY, ROLES)
    with pytest.raises(NotFound):
        await execute(tag_db, ChangeTagPermission("stable", "add_tagger", "alice"), ADMIN,
                      ROLES)
    assert tag_db.tag_permissions == set()


async def test_a_granted_tagger_can_tag_and_a_revoked_one_cannot(tag_db):
    await execute(tag_db, ImportCompose(compose_info()), BUILDER, ROLES)
    tag_alice = TagCompose("test-1.0-20200526.0", "nightly")
    with pytest.raises(Forbidden):
        await execute(tag_db, tag_alice, ALICE, ROLES)
    await execute(tag_db, ChangeTagPermission("nightly", "add_tagger", None, "staff"), ADMIN,
                  ROLES)
    assert (await execute(tag_db, tag_alice, ALICE, ROLES))["tags"] == ["nightly"]
    await execute(tag_db, ChangeTagPermission("nightly", "remove_tagger", None, "staff"),
                  ADMIN, ROLES)
    with pytest.raises(Forbidden):
        await execute(tag_db, tag_alice, Actor("alice", groups=frozenset({"staff"})), ROLES)
