"""Compose handlers (import, tag, untag, set_url) over the in-memory unit of work."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from handlers.commands import (
    ChangeTagPermission,
    CreateTag,
    ImportCompose,
    SetComposeUrl,
    TagCompose,
    UntagCompose,
)
from handlers.errors import Forbidden, InvalidInput, NotFound
from handlers.identity import ANONYMOUS, Actor
from schemas import PUBLISHED_BY_EVENT
from tests.conftest import compose_info
from tests.unit.conftest import (
    ADMIN,
    ALICE,
    BOB,
    BUILDER,
    GROUP_ADMIN,
    GROUP_BUILDER,
    MALLORY,
    ROLES,
)
from tests.unit.fakes import (
    FIXED_NOW,
    Change,
    Event,
    FakeComposeStore,
    FakeDatabase,
    execute,
)

ID0 = "test-1.0-20200526.0"


async def import_(db: FakeDatabase, actor: Actor = BUILDER, *,
                  parents: tuple[str, ...] = (), respin_of: str | None = None,
                  compose_url: str | None = None, **info: Any) -> dict[str, Any]:
    command = ImportCompose(compose_info(**info), parents, respin_of, compose_url)
    return await execute(db, command, actor, ROLES)


def snapshot(db: FakeDatabase) -> FakeDatabase:
    return copy.deepcopy(db)


def stored_representation(compose_id: str, **changes: Any) -> dict[str, Any]:
    """The v1 representation of a freshly imported `compose_info()` compose."""
    info = compose_info()
    info["payload"]["compose"]["id"] = compose_id
    info["payload"]["compose"]["respin"] = int(compose_id.rsplit(".", 1)[1])
    info["payload"]["release"]["is_layered"] = False
    representation = {
        "compose_info": info, "builder": "pungi", "tags": [], "parents": [], "children": [],
        "respin_of": None, "respun_by": [], "compose_url": None,
        "build_status": None, "removed": False, "removed_reason": None,
    }
    representation.update(changes)
    return representation


# --- import: respins and IDs -------------------------------------------------------------


async def test_first_import_gets_respin_0_and_the_productmd_id(db):
    answer = await import_(db)
    assert answer["payload"]["compose"]["respin"] == 0
    assert answer["payload"]["compose"]["id"] == ID0
    assert db.compose_ids() == [ID0]


async def test_respins_follow_the_counter_of_the_stream(db):
    respins = []
    for requested in (0, 0, 5, 2, 0):
        answer = await import_(db, respin=requested)
        respins.append(answer["payload"]["compose"]["respin"])
    # 0, then the next one, then a requested higher one, then always after the last.
    assert respins == [0, 1, 5, 6, 7]
    assert db.compose_ids() == [f"test-1.0-20200526.{n}" for n in (0, 1, 5, 6, 7)]


async def test_other_dates_versions_and_products_count_respins_separately(db):
    ids = [
        (await import_(db, **kw))["payload"]["compose"]["id"]
        for kw in ({}, {"date": "20200527"}, {"version": "2.0"}, {"short": "other"})
    ]
    assert ids == [ID0, "test-1.0-20200527.0", "test-2.0-20200526.0", "other-1.0-20200526.0"]


async def test_compose_types_share_the_respin_of_their_release_and_date(db):
    await import_(db)
    nightly = await import_(db, type_="nightly")
    assert nightly["payload"]["compose"]["id"] == "test-1.0-20200526.n.1"


async def test_answer_carries_the_stored_id_not_the_one_the_client_sent(db):
    await import_(db)
    answer = await import_(db, id="old-name-20190101.3")
    assert answer["payload"]["compose"]["id"] == "test-1.0-20200526.1"
    stored = db.composes[db.compose_pk("test-1.0-20200526.1")]
    assert stored.compose_info == answer
    assert stored.columns["compose_id"] == "test-1.0-20200526.1"
    assert stored.columns["respin"] == 1


@pytest.mark.parametrize(("type_", "expected"), [
    ("production", "test-1.0-20200526.0"),
    ("nightly", "test-1.0-20200526.n.0"),
    ("test", "test-1.0-20200526.t.0"),
    ("ci", "test-1.0-20200526.ci.0"),
])
async def test_import_names_the_compose_by_type(db, type_, expected):
    answer = await import_(db, type_=type_)
    assert answer["payload"]["compose"]["id"] == expected
    assert db.compose_ids() == [expected]


async def test_layered_product_id_names_the_base_product(db):
    info = compose_info()
    info["payload"]["release"]["is_layered"] = True
    info["payload"]["base_product"] = {"name": "Base", "short": "base", "version": "8",
                                       "type": "ga"}
    answer = await execute(db, ImportCompose(info), BUILDER, ROLES)
    assert answer["payload"]["compose"]["id"] == "test-1.0-base-8-20200526.0"
    assert answer["payload"]["base_product"] == info["payload"]["base_product"]
    columns = db.composes[1].columns
    assert (columns["base_product_short"], columns["base_product_version"]) == ("base", "8")


async def test_import_stores_what_was_sent_and_records_history(db):
    info = compose_info(label="RC-1.0", final=True)
    info["payload"]["variants"] = {"Server": {
        "id": "Server", "uid": "Server", "name": "Server", "type": "variant",
        "arches": ["x86_64"], "paths": {"os_tree": {"x86_64": "Server/x86_64/os"}}}}
    answer = await execute(db, ImportCompose(info, compose_url="https://example.com/c/1"),
                           BUILDER, ROLES)
    compose = db.composes[1]
    assert answer["payload"]["compose"]["final"] is True
    assert answer["payload"]["compose"]["label"] == "RC-1.0"
    assert answer["payload"]["variants"] == info["payload"]["variants"]
    assert compose.compose_info == answer
    assert (compose.builder, compose.compose_url) == ("pungi", "https://example.com/c/1")
    assert db.compose_changes == [
        Change(1, FIXED_NOW, "created", "pungi", f"Compose {ID0} created", None)
    ]


async def test_import_emits_compose_created_with_the_exact_body(db):
    await import_(db, compose_url="http://example.com/compose")
    assert db.outbox == [Event(
        "compose-created",
        {"event": "compose-created",
         "compose": stored_representation(ID0, compose_url="http://example.com/compose"),
         "agent": "pungi"},
        ID0,
    )]


def layered_info(short: str, version: str, base_short: str,
                 base_version: str) -> dict[str, Any]:
    info = compose_info(short=short, version=version)
    info["payload"]["release"]["is_layered"] = True
    info["payload"]["base_product"] = {"name": "Base", "short": base_short,
                                       "version": base_version, "type": "ga"}
    return info


async def import_stored_or_refused(db: FakeDatabase, info: dict[str, Any],
                                   field: str) -> None:
    """Either import stores the compose, or refuses it naming `field`: never a DB error."""
    try:
        answer = await execute(db, ImportCompose(info), BUILDER, ROLES)
    except InvalidInput as refused:
        assert field in refused.message
        assert db == FakeDatabase()
    else:
        assert db.compose_ids() == [answer["payload"]["compose"]["id"]]


async def test_import_never_overflows_the_compose_id_column(db):
    info = layered_info("s" * 60, "v" * 60, "b" * 80, "9" * 60)  # a 274-character ID
    await import_stored_or_refused(db, info, "compose_id")


async def test_import_ignores_the_length_of_the_id_the_client_sent(db):
    answer = await import_(db, id="x" * 250 + "-20200526.0")
    assert answer["payload"]["compose"]["id"] == ID0


async def test_import_never_overflows_the_version_sort_key_column(db):
    version = ".".join(str(n) for n in range(1, 22))
    await import_stored_or_refused(db, compose_info(version=version), "version")


async def test_import_refuses_an_overlong_release_short_before_storing(db):
    await import_stored_or_refused(db, compose_info(short="a" * 101), "release_short")
    assert db == FakeDatabase()


# --- import: lineage ------------------------------------------------------------------


async def test_parents_and_respin_of_are_linked_both_ways(db):
    await import_(db, short="base")
    await import_(db, short="extra")
    await import_(db)
    await import_(db, parents=("base-1.0-20200526.0", "extra-1.0-20200526.0",
                               "base-1.0-20200526.0"), respin_of=ID0)
    child = await db_representation(db, "test-1.0-20200526.1")
    assert child["parents"] == ["base-1.0-20200526.0", "extra-1.0-20200526.0"]
    assert child["respin_of"] == ID0
    assert (await db_representation(db, "base-1.0-20200526.0"))["children"] == [
        "test-1.0-20200526.1"]
    assert (await db_representation(db, ID0))["respun_by"] == ["test-1.0-20200526.1"]
    # The message shows the compose as it is after the import, lineage included.
    assert db.outbox[-1].body["compose"] == child


async def db_representation(db: FakeDatabase, compose_id: str) -> dict[str, Any]:
    return await FakeComposeStore(db).representation(db.compose_pk(compose_id))


@pytest.mark.parametrize("lineage", [
    {"parents": ("missing-1.0-20200101.0",)},
    {"parents": (ID0, "missing-1.0-20200101.0")},
    {"respin_of": "missing-1.0-20200101.0"},
])
async def test_unknown_parent_or_respin_of_is_refused_and_nothing_stored(db, lineage):
    await import_(db)
    before = snapshot(db)
    with pytest.raises(InvalidInput) as refused:
        await import_(db, **lineage)
    assert "missing-1.0-20200101.0" in refused.value.message
    field = "parent_compose_ids" if "parents" in lineage else "respin_of"
    assert field in refused.value.message
    assert db == before
    # The refused import did not use up a respin.
    assert (await import_(db))["payload"]["compose"]["respin"] == 1


async def test_more_than_100_parents_are_refused(db):
    parents = tuple(f"p-1.0-20200526.{n}" for n in range(101))
    with pytest.raises(InvalidInput, match="at most 100"):
        await import_(db, parents=parents)
    assert db == FakeDatabase()


# --- import: compose_url --------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "ftp://example.com/compose",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "example.com/compose",
    "http:///compose",
    "http://example.com/my compose",
    "http://example.com/compose\n",
    "http://example.com/\ncompose",
    "http://example.com:99999/compose",
    "",
])
async def test_import_refuses_a_compose_url_that_is_not_http(db, url):
    with pytest.raises(InvalidInput) as refused:
        await import_(db, compose_url=url)
    assert "compose_url" in refused.value.message
    assert db == FakeDatabase()


@pytest.mark.parametrize("url", ["http://example.com/c", "https://kojipkgs.example.org:8443/c/1"])
async def test_import_accepts_http_and_https_urls(db, url):
    await import_(db, compose_url=url)
    assert db.composes[1].compose_url == url


# --- import: who may ------------------------------------------------------------------


@pytest.mark.parametrize("actor", [BUILDER, GROUP_BUILDER, ADMIN, GROUP_ADMIN, ANONYMOUS])
async def test_builders_and_admins_may_import(db, actor):
    await import_(db, actor)
    assert db.composes[1].builder == actor.username
    assert db.outbox[0].body["agent"] == actor.username


@pytest.mark.parametrize("actor", [MALLORY, Actor("pungi-impostor", groups=frozenset({"qe"}))])
async def test_others_may_not_import(db, actor):
    with pytest.raises(Forbidden, match=actor.username):
        await import_(db, actor)
    assert db == FakeDatabase()


async def test_permission_is_checked_before_the_input(db):
    with pytest.raises(Forbidden):
        await execute(db, ImportCompose({"not": "productmd"}), MALLORY, ROLES)


# --- tag / untag ----------------------------------------------------------------------


@pytest.fixture
async def tagged_db(db: FakeDatabase) -> FakeDatabase:
    """One compose and tag "nightly": alice tags by name, group qe tags, bob untags."""
    await import_(db)
    await execute(db, CreateTag("nightly", "Nightly composes", "https://docs"), ADMIN, ROLES)
    for action, username, group in (("add_tagger", "alice", None),
                                    ("add_tagger", None, "qe"),
                                    ("add_untagger", "bob", None)):
        await execute(db, ChangeTagPermission("nightly", action, username, group), ADMIN,
                      ROLES)
    db.outbox.clear()
    return db


@pytest.mark.parametrize("actor", [ALICE, BOB, ADMIN, GROUP_ADMIN, ANONYMOUS])
async def test_taggers_by_user_or_group_and_admins_may_tag(tagged_db, actor):
    answer = await execute(tagged_db, TagCompose(ID0, "nightly"), actor, ROLES)
    assert answer["tags"] == ["nightly"]
    assert [e.event for e in tagged_db.outbox] == ["compose-tagged"]


@pytest.mark.parametrize("actor", [MALLORY, BUILDER, Actor("bob2", groups=frozenset({"qe-x"}))])
async def test_others_may_not_tag(tagged_db, actor):
    before = snapshot(tagged_db)
    with pytest.raises(Forbidden, match="nightly"):
        await execute(tagged_db, TagCompose(ID0, "nightly"), actor, ROLES)
    assert tagged_db == before


async def test_a_tagger_may_not_untag_and_an_untagger_may_not_tag(tagged_db):
    await execute(tagged_db, TagCompose(ID0, "nightly"), ALICE, ROLES)
    with pytest.raises(Forbidden):
        await execute(tagged_db, UntagCompose(ID0, "nightly"), ALICE, ROLES)
    await execute(tagged_db, UntagCompose(ID0, "nightly"), Actor("bob"), ROLES)
    with pytest.raises(Forbidden):
        await execute(tagged_db, TagCompose(ID0, "nightly"), Actor("bob"), ROLES)
    assert [e.event for e in tagged_db.outbox] == ["compose-tagged", "compose-untagged"]


async def test_tagging_twice_is_one_change_and_one_message(tagged_db):
    for _ in range(2):
        answer = await execute(tagged_db, TagCompose(ID0, "nightly", "ticket-1"), ALICE,
                               ROLES)
        assert answer == stored_representation(ID0, tags=["nightly"])
    assert tagged_db.changes_of(ID0)[1:] == [
        Change(1, FIXED_NOW, "tagged", "alice", 'User "alice" added "nightly" tag.', "ticket-1")
    ]
    assert tagged_db.outbox == [Event(
        "compose-tagged",
        {"event": "compose-tagged", "tag": "nightly",
         "compose": stored_representation(ID0, tags=["nightly"]),
         "agent": "alice", "user_data": "ticket-1"},
        ID0,
    )]


async def test_untag_sends_the_compose_after_the_change(tagged_db):
    await execute(tagged_db, TagCompose(ID0, "nightly"), ALICE, ROLES)
    answer = await execute(tagged_db, UntagCompose(ID0, "nightly"), BOB, ROLES)
    assert answer["tags"] == []
    assert tagged_db.changes_of(ID0)[-1] == Change(1, FIXED_NOW, "untagged", "bob",
                                                   'User "bob" removed "nightly" tag.', None)
    assert tagged_db.outbox[-1] == Event(
        "compose-untagged",
        {"event": "compose-untagged", "tag": "nightly", "compose": stored_representation(ID0),
         "agent": "bob", "user_data": None},
        ID0,
    )


async def test_untagging_an_untagged_compose_is_a_silent_success(tagged_db):
    before = snapshot(tagged_db)
    answer = await execute(tagged_db, UntagCompose(ID0, "nightly"), BOB, ROLES)
    assert answer == stored_representation(ID0)
    assert tagged_db == before


async def test_unknown_tag_is_invalid_input_and_unknown_compose_not_found(tagged_db):
    before = snapshot(tagged_db)
    with pytest.raises(InvalidInput, match="stable"):
        await execute(tagged_db, TagCompose(ID0, "stable"), ADMIN, ROLES)
    with pytest.raises(InvalidInput, match="stable"):
        await execute(tagged_db, UntagCompose(ID0, "stable"), ADMIN, ROLES)
    with pytest.raises(NotFound, match="No such compose found"):
        await execute(tagged_db, TagCompose("missing-1.0-20200101.0", "nightly"), ADMIN, ROLES)
    assert tagged_db == before


async def test_overlong_user_data_is_refused(tagged_db):
    with pytest.raises(InvalidInput, match="user_data"):
        await execute(tagged_db, TagCompose(ID0, "nightly", "x" * 4097), ALICE, ROLES)
    await execute(tagged_db, TagCompose(ID0, "nightly", "x" * 4096), ALICE, ROLES)
    assert tagged_db.changes_of(ID0)[-1].user_data == "x" * 4096


# --- set_url --------------------------------------------------------------------------


async def test_set_url_records_history_and_emits_compose_changed(db):
    await import_(db)
    db.outbox.clear()
    answer = await execute(db, SetComposeUrl(ID0, "https://example.com/new", "ticket-2"),
                           GROUP_BUILDER, ROLES)
    assert answer == stored_representation(ID0, compose_url="https://example.com/new")
    assert db.composes[1].compose_url == "https://example.com/new"
    assert db.changes_of(ID0)[-1] == Change(1, FIXED_NOW, "url_changed", "odcs",
                                            "Location changed to https://example.com/new",
                                            "ticket-2")
    assert db.outbox == [Event(
        "compose-changed",
        {"event": "compose-changed", "compose": answer, "agent": "odcs"},
        ID0,
    )]


async def test_setting_the_same_url_again_changes_nothing(db):
    await import_(db, compose_url="https://example.com/c")
    before = snapshot(db)
    answer = await execute(db, SetComposeUrl(ID0, "https://example.com/c"), BUILDER, ROLES)
    assert answer["compose_url"] == "https://example.com/c"
    assert db == before


async def test_only_builders_and_admins_may_set_url(tagged_db):
    before = snapshot(tagged_db)
    for actor in (ALICE, MALLORY):
        with pytest.raises(Forbidden):
            await execute(tagged_db, SetComposeUrl(ID0, "https://example.com/x"), actor, ROLES)
    assert tagged_db == before
    await execute(tagged_db, SetComposeUrl(ID0, "https://example.com/x"), GROUP_ADMIN, ROLES)
    assert tagged_db.composes[1].compose_url == "https://example.com/x"


@pytest.mark.parametrize("url", ["ftp://example.com/c", "javascript:alert(1)",
                                 "http://example.com/a b", "http://example.com/\r\nX: y"])
async def test_set_url_refuses_non_http_urls(db, url):
    await import_(db)
    before = snapshot(db)
    with pytest.raises(InvalidInput, match="compose_url"):
        await execute(db, SetComposeUrl(ID0, url), BUILDER, ROLES)
    assert db == before


async def test_set_url_of_an_unknown_compose_is_not_found(db):
    with pytest.raises(NotFound):
        await execute(db, SetComposeUrl(ID0, "https://example.com/c"), BUILDER, ROLES)


# --- every message a handler emits is valid under its published schema ------------------


async def test_emitted_bodies_validate_against_the_published_schemas(tagged_db):
    await execute(tagged_db, ImportCompose(compose_info(), (ID0,), ID0,
                                           "https://example.com/c"), BUILDER, ROLES)
    await execute(tagged_db, TagCompose(ID0, "nightly", "ticket"), ALICE, ROLES)
    await execute(tagged_db, UntagCompose(ID0, "nightly"), Actor("bob"), ROLES)
    await execute(tagged_db, SetComposeUrl(ID0, "https://example.com/d"), BUILDER, ROLES)
    assert [e.event for e in tagged_db.outbox] == [
        "compose-created", "compose-tagged", "compose-untagged", "compose-changed"]
    for event in tagged_db.outbox:
        schema = PUBLISHED_BY_EVENT[event.event]
        schema(body=event.body, topic=f"cts.{event.event}").validate()
