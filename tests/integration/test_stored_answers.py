"""Each compose's answer is stored with it (composes.rendered, ctsd.db.rendering) and
must equal, after every kind of change, the representation built live from the tables;
the compose a command changed is answered from its stored answer, and one whose answer
another change altered (a new child, a respin, a renamed tag) falls back to live."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ctsd.config import Settings
from ctsd.db.engine import create_engine
from ctsd.db.representation import representation_of
from ctsd.db.stored_answers import open_stored_answer_lookup
from ctsd.jsonio import loads
from tests.conftest import create_tag, import_compose, read_database


def stored_answers(url: str) -> dict[str, Any]:
    """compose_id -> its stored answer, parsed (None where it is NULL)."""
    rows = read_database(url, "SELECT compose_id, rendered FROM composes")
    return {row.compose_id: None if row.rendered is None else loads(row.rendered)
            for row in rows}


async def assert_every_stored_answer_is_current(client: Any, url: str) -> dict[str, Any]:
    engine = create_engine(Settings(database_url=url))
    try:
        stored = stored_answers(url)
        async with engine.connect() as conn:
            for compose_id, answer in stored.items():
                live = await representation_of(conn, compose_id)
                if answer is not None:
                    assert answer == live, f"stored answer of {compose_id} is stale"
                got = await client.get(f"/api/1/composes/{compose_id}")
                assert await got.json() == live
        return stored
    finally:
        await engine.dispose()


async def patch(client: Any, path: str, body: dict[str, Any]) -> None:
    response = await client.patch(path, json=body)
    assert response.status == 200, await response.text()


async def test_every_kind_of_change_keeps_stored_answers_current(client, database_url):
    for name in ("qa-passed", "nightly"):
        await create_tag(client, name)
    parent = (await import_compose(client, short="par"))["payload"]["compose"]["id"]
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[parent] is not None, "an import stores its answer with the row"

    await patch(client, f"/api/1/composes/{parent}", {"action": "tag", "tag": "qa-passed"})
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[parent]["tags"] == ["qa-passed"]

    child = (await import_compose(client, short="kid", parent_compose_ids=[parent])
             )["payload"]["compose"]["id"]
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[parent] is None, "the parent's answer gained a child: forgotten"
    assert stored[child]["parents"] == [parent]

    # The parent's next change stores its answer again, children included.
    await patch(client, f"/api/1/composes/{parent}", {"action": "tag", "tag": "nightly"})
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[parent]["children"] == [child]

    respin = (await import_compose(client, short="par", respin_of=parent)
              )["payload"]["compose"]["id"]
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[parent] is None and stored[respin]["respin_of"] == parent

    await patch(client, f"/api/1/composes/{child}",
                {"action": "set_url", "compose_url": "https://example.org/c"})
    await patch(client, f"/api/1/composes/{parent}", {"action": "untag", "tag": "nightly"})
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[child]["compose_url"] == "https://example.org/c"
    assert stored[parent]["respun_by"] == [respin] and stored[parent]["tags"] == ["qa-passed"]

    removed = await client.post(f"/api/1/composes/{child}/removal", json={"reason": "gone"})
    assert removed.status == 200, await removed.text()
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[child]["removed"] is True

    renamed = await client.patch("/api/1/tags/qa-passed", json={"name": "qa-ok"})
    assert renamed.status == 200, await renamed.text()
    stored = await assert_every_stored_answer_is_current(client, database_url)
    assert stored[parent] is None, "a renamed tag forgets the answers naming it"
    got = await client.get(f"/api/1/composes/{parent}")
    assert (await got.json())["tags"] == ["qa-ok"]

    page = await client.get("/api/1/composes/", params={"per_page": "10"})
    listed = {item["compose_info"]["payload"]["compose"]["id"]: item
              for item in (await page.json())["items"]}
    for compose_id in stored:
        got = await client.get(f"/api/1/composes/{compose_id}")
        assert listed[compose_id] == await got.json()


async def test_children_imported_while_the_parent_changes_are_all_answered(pg_client, pg_url):
    """Imports of children do not lock their parent, and the parent is tagged meanwhile:
    whatever the interleaving, its answer must end with every child."""
    client = pg_client
    await create_tag(client, "churn")
    parent = (await import_compose(client, short="par"))["payload"]["compose"]["id"]

    async def child(n: int) -> str:
        made = await import_compose(client, short=f"kid{n}", parent_compose_ids=[parent])
        return str(made["payload"]["compose"]["id"])

    async def churn() -> None:
        for action in ("tag", "untag") * 5:
            await patch(client, f"/api/1/composes/{parent}", {"action": action, "tag": "churn"})

    results = await asyncio.gather(*(child(n) for n in range(12)), churn())
    children = sorted(r for r in results if isinstance(r, str))
    await assert_every_stored_answer_is_current(client, pg_url)
    got = await client.get(f"/api/1/composes/{parent}")
    assert sorted((await got.json())["children"]) == children


@pytest.mark.parametrize("statement", [
    "UPDATE composes SET rendered = NULL",
])
async def test_rows_without_a_stored_answer_are_answered_live(client, database_url,
                                                              statement):
    """Rows migrated from before 0012 have no stored answer: GET and lists build it."""
    for short in ("a", "b"):
        await import_compose(client, short=short)
    before = await (await client.get("/api/1/composes/")).json()
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()
    assert set(stored_answers(database_url).values()) == {None}
    after = await (await client.get("/api/1/composes/")).json()
    assert after == before
    await assert_every_stored_answer_is_current(client, database_url)


async def test_the_driver_lookup_answers_only_stored_answers(pg_client, pg_url):
    made = await import_compose(pg_client, short="look")
    compose_id = made["payload"]["compose"]["id"]
    lookup = await open_stored_answer_lookup(Settings(database_url=pg_url))
    assert lookup is not None
    try:
        stored = await lookup.answer(compose_id)
        got = await pg_client.get(f"/api/1/composes/{compose_id}")
        assert stored is not None and loads(stored) == await got.json()
        assert await lookup.answer("nope-1.0-20200526.0") is None
        engine = create_engine(Settings(database_url=pg_url))
        async with engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE composes SET rendered = NULL")
        await engine.dispose()
        assert await lookup.answer(compose_id) is None, "NULL: the usual path answers"
        got = await pg_client.get(f"/api/1/composes/{compose_id}")
        assert (await got.json())["compose_info"]["payload"]["compose"]["id"] == compose_id
    finally:
        await lookup.close()


async def test_no_driver_lookup_on_sqlite_and_none_that_fails_a_request(tmp_path):
    assert await open_stored_answer_lookup(
        Settings(database_url=f"sqlite:///{tmp_path}/x.sqlite")) is None
    # Nothing listens on port 9 of loopback: every lookup fails, quietly.
    lookup = await open_stored_answer_lookup(
        Settings(database_url="postgresql://postgres@127.0.0.1:9/none"))
    assert lookup is not None
    try:
        assert await lookup.answer("any-1.0-20200526.0") is None
    finally:
        await lookup.close()


async def test_a_change_already_in_effect_leaves_the_row_alone(pg_client, pg_url):
    """Tagging a compose that has the tag, or untagging one without it, writes nothing:
    PostgreSQL would give the row a new version (xmin) if its answer were stored again.
    A NULL answer (a child was added) stays NULL and is answered live."""
    client = pg_client
    await create_tag(client, "qa-passed")
    parent = (await import_compose(client, short="par"))["payload"]["compose"]["id"]
    path = f"/api/1/composes/{parent}"

    def row_version() -> tuple[str, Any]:
        (row,) = read_database(pg_url, "SELECT xmin::text AS version, rendered FROM composes "
                                       f"WHERE compose_id = '{parent}'")
        return row.version, row.rendered

    await patch(client, path, {"action": "tag", "tag": "qa-passed"})
    tagged = row_version()
    await patch(client, path, {"action": "tag", "tag": "qa-passed"})
    assert row_version() == tagged
    await patch(client, path, {"action": "untag", "tag": "qa-passed"})
    untagged = row_version()
    assert untagged != tagged
    await patch(client, path, {"action": "untag", "tag": "qa-passed"})
    assert row_version() == untagged

    await import_compose(client, short="kid", parent_compose_ids=[parent])
    assert row_version()[1] is None
    await patch(client, path, {"action": "untag", "tag": "qa-passed"})
    assert row_version()[1] is None
    await patch(client, path, {"action": "tag", "tag": "qa-passed"})
    stored = await assert_every_stored_answer_is_current(client, pg_url)
    assert stored[parent] is not None and stored[parent]["tags"] == ["qa-passed"]
