"""PostgreSQL: in a group of HTTP commands (ctsd.group_commit) or a bus batch of imports,
tag changes and URLs, a tag change is decided from the compose's stored answer, read
with its lock, and written at commit with the history and outbox rows
(SqlComposeStore.lock_all's `tag_changes_at_commit`). What is stored and answered must
be what changing compose_tags at once would give; a stored answer that lied is caught
where a write shows it, and the commands then run alone."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import text

from ctsd.config import Settings
from ctsd.db.engine import create_engine
from ctsd.db.representation import representation_of
from ctsd.db.uow import SqlUnitOfWork
from ctsd.db.waiting_tag_changes import StaleStoredAnswer
from ctsd.jsonio import dumps, loads
from ctsd.service import BusCommand, CommandBus
from handlers.commands import (
    CreateTag,
    ImportCompose,
    SetComposeUrl,
    SetTagGates,
    TagCompose,
    UntagCompose,
)
from handlers.errors import Conflict
from tests.conftest import compose_info, read_database
from tests.integration.consumer_harness import history
from tests.relaying import ADMIN, grouping_bus


def _compose_id(n: int) -> str:
    return f"tc{n}-1.0-20200526.0"


async def _prepare(bus: CommandBus) -> None:
    for n in range(4):
        await bus.execute(ImportCompose(compose_info(short=f"tc{n}")), ADMIN)
    for name in ("installability-passed", "qa-passed", "broken", "nightly"):
        await bus.execute(CreateTag(name, "d", "https://docs"), ADMIN)
    await bus.execute(SetTagGates("qa-passed", ("installability-passed",), ("broken",)),
                      ADMIN)
    await bus.execute(TagCompose(_compose_id(0), "nightly"), ADMIN)


def _grouping_bus(url: str) -> AbstractAsyncContextManager[tuple[CommandBus, list[str]]]:
    return grouping_bus(url, _prepare)


async def _in_one_group(bus: CommandBus, commands: list[Any]) -> list[Any]:
    """The commands submitted together: a group of one transaction (group_transactions=1
    and nothing else running: the first may be a group of its own)."""
    return await asyncio.gather(*(bus.execute(command, ADMIN) for command in commands),
                                return_exceptions=True)


def _compose_tags_of(url: str) -> dict[str, list[str]]:
    rows = read_database(url, "SELECT c.compose_id, t.name FROM compose_tags ct "
                              "JOIN composes c ON c.pk = ct.compose_pk "
                              "JOIN tags t ON t.id = ct.tag_id ORDER BY 1, 2")
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.compose_id, []).append(row.name)
    return found


async def _assert_stored_answers_are_live(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            for row in read_database(url, "SELECT compose_id, rendered FROM composes"):
                if row.rendered is not None:
                    live = await representation_of(conn, row.compose_id)
                    assert loads(row.rendered) == live, row.compose_id
    finally:
        await engine.dispose()


async def test_a_group_writes_its_tag_changes_in_its_one_write(pg_url):
    async with _grouping_bus(pg_url) as (bus, statements):
        results = await _in_one_group(bus, [
            TagCompose(_compose_id(1), "broken"),
            TagCompose(_compose_id(0), "installability-passed"),
            TagCompose(_compose_id(0), "qa-passed"),       # its gate met by the one before
            UntagCompose(_compose_id(0), "nightly"),
            TagCompose(_compose_id(2), "nightly"),
            TagCompose(_compose_id(2), "nightly"),         # already in effect
            UntagCompose(_compose_id(3), "broken"),        # never there
        ])
    assert [result.body["tags"] for result in results] == [
        ["broken"], ["installability-passed", "nightly"],
        ["installability-passed", "nightly", "qa-passed"],
        ["installability-passed", "qa-passed"], ["nightly"], ["nightly"], []]
    assert _compose_tags_of(pg_url) == {
        _compose_id(0): ["installability-passed", "qa-passed"],
        _compose_id(1): ["broken"], _compose_id(2): ["nightly"]}
    await _assert_stored_answers_are_live(pg_url)
    assert history(pg_url, _compose_id(0))[-3:] == ["tagged", "tagged", "untagged"]
    assert history(pg_url, _compose_id(2))[-1:] == ["tagged"]
    # No statement of its own changes compose_tags: only the group's commit write does.
    writes = [sql for sql in statements if "INTO compose_tags" in sql
              or "DELETE FROM compose_tags" in sql]
    assert writes and all("INSERT INTO outbox" in sql for sql in writes), writes


def _tag_row_versions(url: str) -> dict[tuple[int, int], str]:
    return {(row.compose_pk, row.tag_id): row.xmin for row in read_database(
        url, "SELECT compose_pk, tag_id, xmin::text FROM compose_tags")}


async def test_a_tag_added_and_removed_in_one_group_writes_no_tag_row(pg_url):
    async with _grouping_bus(pg_url) as (bus, _):
        versions_before = _tag_row_versions(pg_url)
        results = await _in_one_group(bus, [
            TagCompose(_compose_id(3), "installability-passed"),   # a group of its own
            TagCompose(_compose_id(1), "broken"),
            UntagCompose(_compose_id(1), "broken"),
            UntagCompose(_compose_id(0), "nightly"),
            TagCompose(_compose_id(0), "nightly"),
        ])
    assert [result.body["tags"] for result in results] == [
        ["installability-passed"], ["broken"], [], [], ["nightly"]]
    assert _compose_tags_of(pg_url) == {_compose_id(0): ["nightly"],
                                        _compose_id(3): ["installability-passed"]}
    assert history(pg_url, _compose_id(1)) == ["created", "tagged", "untagged"]
    assert history(pg_url, _compose_id(0))[-2:] == ["untagged", "tagged"]
    await _assert_stored_answers_are_live(pg_url)
    # Untagged and tagged again in one group: its row is the one it had before.
    versions_after = _tag_row_versions(pg_url)
    assert {key: versions_after.get(key) for key in versions_before} == versions_before


async def test_a_gate_sees_a_tag_that_waits_for_commit(pg_url):
    async with _grouping_bus(pg_url) as (bus, _):
        results = await _in_one_group(bus, [
            TagCompose(_compose_id(3), "nightly"),                 # a group of its own
            TagCompose(_compose_id(1), "broken"),
            TagCompose(_compose_id(1), "installability-passed"),
            TagCompose(_compose_id(1), "qa-passed"),               # excluded by broken
        ])
    assert isinstance(results[3], Conflict), results[3]
    assert _compose_tags_of(pg_url)[_compose_id(1)] == ["broken", "installability-passed"]


async def test_a_batch_of_tag_changes_and_urls_writes_tags_at_commit(pg_url):
    async with _grouping_bus(pg_url) as (bus, statements):
        url = "https://kojipkgs.example.com/compose/tc1"
        outcomes = await bus.execute_batch([
            BusCommand(TagCompose(_compose_id(1), "broken"), ADMIN, "m-1"),
            BusCommand(SetComposeUrl(_compose_id(1), url), ADMIN, "m-2"),
            BusCommand(TagCompose(_compose_id(1), "nightly"), ADMIN, "m-3"),
        ])
    # The URL change reads the compose anew: the tag waiting for commit is written first.
    assert outcomes[1].body["tags"] == ["broken"]
    assert outcomes[1].body["compose_url"] == url
    assert outcomes[2].body["tags"] == ["broken", "nightly"]
    assert _compose_tags_of(pg_url)[_compose_id(1)] == ["broken", "nightly"]
    await _assert_stored_answers_are_live(pg_url)
    assert [sql for sql in statements if "INSERT INTO compose_tags" in sql
            and "INSERT INTO outbox" not in sql], "the first tag was written before the read"


async def _make_the_stored_answer_lie(bus: CommandBus, url: str, compose_id: str) -> None:
    """compose_tags says the compose is nightly; its stored answer will say it is not."""
    rows = read_database(url, "SELECT pk, rendered FROM composes WHERE compose_id = "
                              f"'{compose_id}'")
    lying = {**loads(rows[0].rendered), "tags": []}
    async with SqlUnitOfWork(bus.engine, bus.topic_prefix) as uow:
        await uow.connection.execute(
            text("UPDATE composes SET rendered = :answer WHERE pk = :pk"),
            {"answer": dumps(lying).decode(), "pk": rows[0].pk})
        await uow.connection.commit()


async def test_a_stored_answer_that_lied_is_caught_and_the_group_runs_alone(pg_url, caplog):
    async with _grouping_bus(pg_url) as (bus, _):
        await _make_the_stored_answer_lie(bus, pg_url, _compose_id(0))
        with caplog.at_level(logging.ERROR, logger="ctsd.service"):
            (outcome,) = await _in_one_group(bus, [TagCompose(_compose_id(0), "nightly")])
    # Run alone, the tag change asked compose_tags: already there, nothing changed.
    assert outcome.body["tags"] == ["nightly"]
    assert _compose_tags_of(pg_url)[_compose_id(0)] == ["nightly"]
    assert history(pg_url, _compose_id(0)) == ["created", "tagged"]
    assert "were stale, now cleared: tag changes at commit wrote 0 of 1" in caplog.text
    await _assert_stored_answers_are_live(pg_url)


async def test_a_batch_that_meets_a_lying_answer_fails_and_clears_it(pg_url):
    async with _grouping_bus(pg_url) as (bus, _):
        await _make_the_stored_answer_lie(bus, pg_url, _compose_id(0))
        batch = [BusCommand(TagCompose(_compose_id(1), "broken"), ADMIN, "m-1"),
                 BusCommand(TagCompose(_compose_id(0), "nightly"), ADMIN, "m-2")]
        with pytest.raises(StaleStoredAnswer):
            await bus.execute_batch(batch)
        assert _compose_tags_of(pg_url) == {_compose_id(0): ["nightly"]}, "rolled back"
        answers = {row.compose_id: row.rendered for row in read_database(
            pg_url, "SELECT compose_id, rendered FROM composes")}
        # The commit's counts cannot tell which compose's answer lied: those of every
        # compose whose tags it changed are cleared; the others keep theirs.
        assert answers[_compose_id(0)] is None and answers[_compose_id(1)] is None
        assert answers[_compose_id(2)] is not None and answers[_compose_id(3)] is not None
        # The consumer then applies the messages one by one (ctsd.consumer.runner).
        outcomes = [await bus.execute(item.command, item.actor, message_id=item.message_id)
                    for item in batch]
    assert [outcome.body["tags"] for outcome in outcomes] == [["broken"], ["nightly"]]
    await _assert_stored_answers_are_live(pg_url)
