"""PostgreSQL: imports in a group of HTTP commands are allocated on arrival (respin and
pk: ctsd.allocations_ahead), and the usual import's row waits for the commit statement
(ctsd.db.waiting_composes), which is then the group's whole transaction. What is stored
and answered must be what inserting each row at once gave; a respin no transaction
took goes back; a failing commit statement leaves nothing behind."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from ctsd.config import to_driver_url
from ctsd.jsonio import loads
from ctsd.service import CommandBus
from handlers.commands import ImportCompose
from handlers.errors import InvalidInput
from tests.conftest import compose_info, read_database
from tests.integration.consumer_harness import events, history
from tests.integration.test_tag_changes_at_commit import _assert_stored_answers_are_live
from tests.relaying import ADMIN, grouping_bus


async def _one_import(bus: CommandBus) -> None:
    await bus.execute(ImportCompose(compose_info(short="first")), ADMIN)


def _grouping_bus(url: str) -> AbstractAsyncContextManager[tuple[CommandBus, list[str]]]:
    return grouping_bus(url, _one_import)


async def _in_one_group(bus: CommandBus, commands: list[Any]) -> list[Any]:
    """The commands submitted together: with nothing else running, one group (after
    each import's allocation, made as it arrives)."""
    return await asyncio.gather(*(bus.execute(command, ADMIN) for command in commands),
                                return_exceptions=True)


def _composes(url: str) -> dict[str, int]:
    return {row.compose_id: row.pk
            for row in read_database(url, "SELECT compose_id, pk FROM composes")}


def _write(url: str, statement: str, **params: Any) -> None:
    engine = create_engine(to_driver_url(url, asynchronous=False))
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def _counter(url: str, short: str) -> int | None:
    rows = read_database(url, "SELECT last_respin FROM respin_counters "
                              "WHERE stream LIKE :short", short=f"{short}\x1f%")
    return rows[0].last_respin if rows else None


def test_allocation_takes_pks_from_the_sequence_of_composes_pk(pg_url):
    # COMPOSE_PK names the sequence; the schema must be the one that has it.
    (row,) = read_database(pg_url, "SELECT pg_get_serial_sequence('composes', 'pk') AS seq")
    assert row.seq == "public.composes_pk_seq"


def _created_events(url: str) -> list[str]:
    return [event.body["compose"]["compose_info"]["payload"]["compose"]["id"]
            for event in events(url) if event.topic.endswith("compose-created")]


async def test_each_group_of_imports_is_one_statement(pg_url):
    async with _grouping_bus(pg_url) as (bus, statements):
        results = await _in_one_group(bus, [
            ImportCompose(compose_info(short=f"grp{n}")) for n in range(4)])
    ids = [result.body["payload"]["compose"]["id"] for result in results]
    assert ids == [f"grp{n}-1.0-20200526.0" for n in range(4)]
    # Every statement the write connection sent is a group's whole transaction: no
    # BEGIN, no INSERT of its own, no COMMIT (allocations went on the allocator's
    # pool, as each import arrived: how many land in one group depends on when).
    assert 1 <= len(statements) <= 4, statements
    assert all("INSERT INTO composes" in sql and "INSERT INTO outbox" in sql
               for sql in statements), statements
    stored = _composes(pg_url)
    for compose_id, result in zip(ids, results, strict=True):
        assert history(pg_url, compose_id) == ["created"]
        (row,) = read_database(pg_url, "SELECT rendered FROM composes WHERE pk = :pk",
                               pk=stored[compose_id])
        assert loads(row.rendered)["compose_info"] == result.body
    assert sorted(_created_events(pg_url)[-4:]) == ids
    await _assert_stored_answers_are_live(pg_url)


async def test_a_waiting_compose_is_written_before_a_later_import_names_it(pg_url):
    async with _grouping_bus(pg_url) as (bus, _):
        first, second = await _in_one_group(bus, [
            ImportCompose(compose_info(short="par")),
            ImportCompose(compose_info(short="kid"),
                          parent_compose_ids=("par-1.0-20200526.0",),
                          respin_of="par-1.0-20200526.0")])
    assert not isinstance(second, BaseException), second
    assert second.body["payload"]["compose"]["id"] == "kid-1.0-20200526.0"
    parents = read_database(pg_url, "SELECT p.compose_id FROM compose_parents cp "
                                        "JOIN composes p ON p.pk = cp.parent_pk")
    assert [row.compose_id for row in parents] == ["par-1.0-20200526.0"]
    assert history(pg_url, "par-1.0-20200526.0") == ["created"]
    assert first.body["payload"]["compose"]["id"] == "par-1.0-20200526.0"
    await _assert_stored_answers_are_live(pg_url)


def _bad_release_type() -> dict[str, Any]:
    info = compose_info(short="back")
    info["payload"]["release"]["type"] = "bogus"  # productmd refuses it, the guess not
    return info


@pytest.mark.parametrize("refused", [
    ImportCompose(compose_info(short="back"), parent_compose_ids=("no-1.0-20200101.0",)),
    ImportCompose(_bad_release_type()),
], ids=["unknown-parent", "refused-by-productmd"])
async def test_a_respin_no_transaction_took_is_given_back(pg_url, refused):
    async with _grouping_bus(pg_url) as (bus, _):
        (failed,) = await _in_one_group(bus, [refused])
        assert isinstance(failed, InvalidInput), failed
        # Given back before the caller hears of the refusal.
        assert _counter(pg_url, "back") is None, "the counter it created is gone again"
        await bus.execute(ImportCompose(compose_info(short="back")), ADMIN)
    assert "back-1.0-20200526.0" in _composes(pg_url), "respin 0 was free again"


async def test_a_failing_commit_statement_leaves_nothing_and_each_runs_alone(pg_url):
    async with _grouping_bus(pg_url) as (bus, statements):
        # The next pks the sequence hands out are taken already: the group's one
        # statement fails on the primary key, after the handlers all succeeded.
        (last,) = read_database(pg_url, "SELECT last_value FROM composes_pk_seq")
        _write(pg_url, "INSERT INTO composes (pk, compose_id, date, respin, type, "
                      "final, release_name, release_short, release_version, "
                      "release_version_key, release_is_layered, release_type, "
                      "release_internal, builder, compose_info, created_at) "
                      "SELECT pk + n, compose_id || '-x' || n, date, respin, type, final, "
                      "release_name, release_short, release_version, release_version_key, "
                      "release_is_layered, release_type, release_internal, builder, "
                      "compose_info, created_at FROM composes, generate_series(1, 3) n "
                      "WHERE pk = :pk", pk=last.last_value)
        results = await _in_one_group(bus, [
            ImportCompose(compose_info(short=f"fail{n}")) for n in range(2)])
    assert [result.body["payload"]["compose"]["id"] for result in results] == [
        f"fail{n}-1.0-20200526.0" for n in range(2)], results
    failed_group = statements[0]
    assert "INSERT INTO composes" in failed_group and "INSERT INTO outbox" in failed_group
    for n in range(2):
        assert history(pg_url, f"fail{n}-1.0-20200526.0") == ["created"], "once each"
    assert len(_created_events(pg_url)) == 3, "the first import's and one for each of two"
    await _assert_stored_answers_are_live(pg_url)


async def test_allocations_that_wait_go_in_one_statement(pg_url):
    async with _grouping_bus(pg_url) as (bus, _):
        results = await _in_one_group(bus, [
            ImportCompose(compose_info(short=f"bat{n}")) for n in range(6)])
    ids = sorted(result.body["payload"]["compose"]["id"] for result in results)
    assert ids == [f"bat{n}-1.0-20200526.0" for n in range(6)]
    # Each allocation statement is a transaction of its own: counters bumped by one
    # statement carry the same transaction id.
    rows = read_database(pg_url, "SELECT DISTINCT xmin::text AS tx FROM respin_counters "
                                 "WHERE stream LIKE 'bat%'")
    assert len(rows) < 6, "those that waited went together"
    await _assert_stored_answers_are_live(pg_url)
