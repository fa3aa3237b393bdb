"""A group of HTTP tag changes (ctsd.group_commit) and a batch of bus commands read the
tags they name with the lock of their composes (ctsd.db.compose_statements): on
PostgreSQL no statement of its own reads a tag. What the tags allow still holds: who may
tag, the tag's gates, an unknown tag refused, and a tag changed earlier in the same
batch is seen as it is now."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

import pytest

from ctsd.service import BusCommand, CommandBus
from handlers.commands import (
    ChangeTagPermission,
    CreateTag,
    ImportCompose,
    SetTagGates,
    TagCompose,
    UntagCompose,
)
from handlers.errors import Conflict, Forbidden, InvalidInput
from handlers.identity import Actor
from tests.conftest import compose_info
from tests.relaying import ADMIN, grouping_bus

TAGGER = Actor("tester")
STRANGER = Actor("stranger")


def _compose_id(n: int) -> str:
    return f"rt{n}-1.0-20200526.0"


async def _prepare(bus: CommandBus) -> None:
    for n in range(8):
        await bus.execute(ImportCompose(compose_info(short=f"rt{n}")), ADMIN)
    for name in ("installability-passed", "qa-passed", "broken"):
        await bus.execute(CreateTag(name, "d", "https://docs"), ADMIN)
    await bus.execute(ChangeTagPermission("qa-passed", "add_tagger", "tester"), ADMIN)
    await bus.execute(ChangeTagPermission("broken", "add_tagger", "tester"), ADMIN)
    await bus.execute(SetTagGates("qa-passed", ("installability-passed",), ()), ADMIN)
    await bus.execute(TagCompose(_compose_id(0), "installability-passed"), ADMIN)


def _grouping_bus(url: str) -> AbstractAsyncContextManager[tuple[CommandBus, list[str]]]:
    return grouping_bus(url, _prepare)


def _tag_reads(statements: list[str]) -> list[str]:
    return [sql for sql in statements if "tag_permissions" in sql]


async def _outcomes(bus: CommandBus, calls: list[tuple[object, Actor]]) -> list[object]:
    return await asyncio.gather(*(bus.execute(command, actor) for command, actor in calls),
                                return_exceptions=True)


async def test_a_group_of_tag_changes_keeps_what_its_tags_allow(database_url):
    async with _grouping_bus(database_url) as (bus, _):
        results = await _outcomes(bus, [
            (TagCompose(_compose_id(0), "qa-passed"), TAGGER),     # gate met
            (TagCompose(_compose_id(1), "qa-passed"), TAGGER),     # gate not met
            (TagCompose(_compose_id(2), "broken"), TAGGER),
            (TagCompose(_compose_id(3), "broken"), STRANGER),      # not a tagger
            (UntagCompose(_compose_id(0), "installability-passed"), TAGGER),  # no untagger
            (TagCompose(_compose_id(4), "no-such-tag"), ADMIN),
            (TagCompose(_compose_id(5), "installability-passed"), ADMIN),
        ])
    assert results[0].body["tags"] == ["installability-passed", "qa-passed"]
    assert isinstance(results[1], Conflict) and "requires installability-passed" in str(
        results[1])
    assert results[2].body["tags"] == ["broken"]
    assert isinstance(results[3], Forbidden)
    assert isinstance(results[4], Forbidden)
    assert isinstance(results[5], InvalidInput)
    assert results[6].body["tags"] == ["installability-passed"]


async def test_on_postgresql_a_group_reads_its_tags_with_the_lock(pg_url):
    async with _grouping_bus(pg_url) as (bus, statements):
        results = await _outcomes(bus, [
            (TagCompose(_compose_id(n), tag), TAGGER)
            for n in range(1, 7) for tag in ("broken",)] + [
            (TagCompose(_compose_id(0), "qa-passed"), TAGGER),
            (UntagCompose(_compose_id(7), "broken"), ADMIN)])
        assert [result.body["tags"] for result in results] == (
            [["broken"]] * 6 + [["installability-passed", "qa-passed"], []])
    reads = _tag_reads(statements)
    # Every statement that read a tag (one per group) also locked the group's composes.
    assert reads and all("FOR UPDATE" in sql for sql in reads), reads
    assert not [sql for sql in statements if "tag_gates" in sql and sql not in reads]


async def test_on_postgresql_a_batch_reads_its_tags_with_the_lock(pg_url):
    async with _grouping_bus(pg_url) as (bus, statements):
        outcomes = await bus.execute_batch([
            BusCommand(TagCompose(_compose_id(n), "broken"), TAGGER, f"m-{n}")
            for n in range(1, 5)])
    assert [outcome.body["tags"] for outcome in outcomes] == [["broken"]] * 4
    reads = _tag_reads(statements)
    assert len(reads) == 1 and "FOR UPDATE" in reads[0], reads


async def test_a_tag_changed_earlier_in_the_batch_is_seen_as_it_is_now(database_url):
    """A batch reads its tags with its locks, before any of its commands runs: the
    tagger added earlier in the batch must count, and gates set after the batch's first
    tag change must hold for its second."""
    async with _grouping_bus(database_url) as (bus, _):
        outcomes = await bus.execute_batch([
            BusCommand(ChangeTagPermission("broken", "add_tagger", "stranger"), ADMIN, "m-0"),
            BusCommand(TagCompose(_compose_id(1), "broken"), STRANGER, "m-1")])
        assert outcomes[1].body["tags"] == ["broken"]
        with pytest.raises(Conflict, match="while it has broken"):
            await bus.execute_batch([
                BusCommand(TagCompose(_compose_id(0), "qa-passed"), ADMIN, "m-2"),
                BusCommand(SetTagGates("qa-passed", (), ("broken",)), ADMIN, "m-3"),
                BusCommand(TagCompose(_compose_id(1), "qa-passed"), ADMIN, "m-4")])
