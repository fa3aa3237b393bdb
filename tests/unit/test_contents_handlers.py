"""Contents handlers on the in-memory unit of work: who may import, what a real change
writes (one history row, one message), identical re-imports, wrong files, and when a
fetch is queued."""

from __future__ import annotations

import pytest

from handlers.commands import ImportCompose, RecordBuildStatus, SetComposeUrl
from handlers.contents_commands import (
    FetchComposeContents,
    ImportComposeContents,
    RecordContentsFetchFailure,
)
from handlers.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import compose_info
from tests.contents_support import images_document, package, rpms_document
from tests.unit.conftest import ALICE, BUILDER, GROUP_BUILDER, ROLES
from tests.unit.fakes import execute

CID = "test-1.0-20200526.0"
RPMS = rpms_document(CID, [package("Server", "x86_64", "bash", "5.2-1")])


async def imported(db):
    info = compose_info()
    info["payload"]["variants"] = {"Server": {"id": "Server", "uid": "Server", "name": "S",
                                              "type": "variant", "arches": ["x86_64", "s390x"],
                                              "paths": {}}}
    await execute(db, ImportCompose(info), BUILDER, ROLES)
    return db.compose_pk(CID)


async def test_import_writes_one_change_and_one_message(db):
    pk = await imported(db)
    answer = await execute(db, ImportComposeContents(CID, "rpms", RPMS), GROUP_BUILDER, ROLES)
    assert (answer["count"], answer["changed"]) == (2, True)
    assert [c.action for c in db.changes_of(CID)] == ["created", "contents_imported"]
    assert db.outbox[-1].event == "compose-contents-imported"
    assert db.outbox[-1].body["contents"]["kind"] == "rpms"
    assert db.outbox[-1].body["agent"] == "odcs"
    again = await execute(db, ImportComposeContents(CID, "rpms", RPMS), BUILDER, ROLES)
    assert again["changed"] is False and again["digest"] == answer["digest"]
    assert len(db.changes_of(CID)) == 2 and len(db.outbox) == 2
    assert db.__dict__["variant_arches"][pk] == {("Server", "x86_64"), ("Server", "s390x")}


async def test_images_are_their_own_kind(db):
    await imported(db)
    document = images_document(CID, [("Server", "x86_64", "dvd", "iso")])
    answer = await execute(db, ImportComposeContents(CID, "images", document), BUILDER, ROLES)
    assert (answer["kind"], answer["count"], answer["changed"]) == ("images", 1, True)


async def test_only_builders_and_admins_import(db):
    await imported(db)
    with pytest.raises(Forbidden):
        await execute(db, ImportComposeContents(CID, "rpms", RPMS), ALICE, ROLES)
    assert [c.action for c in db.changes_of(CID)] == ["created"]


@pytest.mark.parametrize(("command", "error", "message"), [
    (ImportComposeContents(CID, "rpms", rpms_document("test-1.0-20200526.1", [])),
     InvalidInput, "is for compose test-1.0-20200526.1"),
    (ImportComposeContents(CID, "modules", RPMS), InvalidInput, "kind must be one of"),
    (ImportComposeContents(CID, "images", RPMS), InvalidInput, "Not a productmd images"),
    (ImportComposeContents(CID, "rpms", {"header": {"type": "productmd.rpms"}}),
     InvalidInput, "Not a valid productmd rpms file"),
    (ImportComposeContents("nope-1-20200101.0", "rpms",
                           rpms_document("nope-1-20200101.0", [])), NotFound, "No such compose"),
])
async def test_bad_imports_change_nothing(db, command, error, message):
    await imported(db)
    with pytest.raises(error, match=message):
        await execute(db, command, BUILDER, ROLES)
    assert len(db.outbox) == 1 and db.__dict__["contents"] == {}


async def test_set_url_queues_a_fetch_and_a_give_up_is_recorded_once(db):
    pk = await imported(db)
    await execute(db, SetComposeUrl(CID, "https://example.com/c"), BUILDER, ROLES)
    assert db.__dict__["fetch_jobs"][pk]["state"] == "pending"
    for _ in range(2):
        await execute(db, RecordContentsFetchFailure(CID, "HTTP 404"), BUILDER, ROLES)
    assert db.__dict__["fetch_jobs"][pk]["state"] == "failed"
    assert [c.action for c in db.changes_of(CID)].count("contents_fetch_failed") == 1
    with pytest.raises(Forbidden):
        await execute(db, RecordContentsFetchFailure(CID, "x"), ALICE, ROLES)


async def test_a_fetch_request_queues_the_job_even_for_an_unfinished_build(db):
    pk = await imported(db)
    await execute(db, RecordBuildStatus(CID, "STARTED", "https://example.com/c"), BUILDER,
                  ROLES)
    assert pk not in db.__dict__["fetch_jobs"]  # a location alone waits for FINISHED
    answer = await execute(db, FetchComposeContents(CID), BUILDER, ROLES)
    assert answer == {"compose_id": CID, "url": "https://example.com/c", "state": "pending"}
    assert db.__dict__["fetch_jobs"][pk] == {"url": "https://example.com/c",
                                             "state": "pending", "reason": None}
    await execute(db, FetchComposeContents(CID, "https://mirror/c"), BUILDER, ROLES)
    assert db.__dict__["fetch_jobs"][pk]["url"] == "https://mirror/c"
    assert [c.action for c in db.changes_of(CID)].count("contents_fetch_requested") == 2


@pytest.mark.parametrize(("command", "error"), [
    (FetchComposeContents(CID), "has no location"),
    (FetchComposeContents(CID, "/mnt/koji/compose"), "over HTTP(S)"),
])
async def test_a_fetch_request_needs_an_http_location(db, command, error):
    pk = await imported(db)
    with pytest.raises(InvalidInput, match=error.replace("(", r"\(").replace(")", r"\)")):
        await execute(db, command, BUILDER, ROLES)
    assert pk not in db.__dict__["fetch_jobs"]


async def test_only_builders_request_fetches(db):
    await imported(db)
    with pytest.raises(Forbidden):
        await execute(db, FetchComposeContents(CID, "https://x/c"), ALICE, ROLES)
    with pytest.raises(NotFound):
        await execute(db, FetchComposeContents("nope-1-20200101.0", "https://x/c"), BUILDER,
                      ROLES)
