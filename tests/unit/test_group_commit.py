"""ctsd.group_commit with stand-in transactions: who waits, who runs together, and that
every caller gets its own answer or its own error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ctsd.group_commit import GroupCommitter, Grouped, GroupFailed
from handlers.identity import Actor


class Transactions:
    """Stand-ins for CommandBus.run_group / run_alone that record what ran together.

    A command is a string; "bad" fails its own handler, "kept" is answered from a kept
    answer that holds even when its group fails."""

    def __init__(self, *, outage: bool = False) -> None:
        self.groups: list[list[str]] = []
        self.alone: list[str] = []
        self.release = asyncio.Event()
        self.release.set()
        self.outage = outage

    async def run_group(self, group: list[Grouped]) -> list[Any]:
        await self.release.wait()
        self.groups.append([item.command for item in group])
        if self.outage:
            raise ConnectionError("database went away")
        outcomes = []
        for index, item in enumerate(group):
            if item.command == "kept":
                item.final = "kept-answer"
            if item.command == "bad":
                raise GroupFailed(index, ValueError("bad input"))
            outcomes.append(f"done {item.command}")
        return outcomes

    async def run_alone(self, item: Grouped) -> Any:
        await self.release.wait()
        self.alone.append(item.command)
        if item.command == "bad":
            raise ValueError("bad input")
        return f"done {item.command}"


def grouped(command: str) -> Grouped:
    return Grouped(command, Actor("alice"), request=None)


async def test_a_command_on_an_idle_process_runs_at_once_as_a_group_of_one():
    runs = Transactions()
    committer = GroupCommitter(runs.run_group, runs.run_alone)
    assert await committer.submit(grouped("a")) == "done a"
    assert runs.groups == [["a"]] and runs.alone == []


async def test_commands_arriving_during_a_transaction_run_together_after_it():
    runs = Transactions()
    runs.release.clear()
    committer = GroupCommitter(runs.run_group, runs.run_alone)
    first = asyncio.ensure_future(committer.submit(grouped("a")))
    await asyncio.sleep(0)  # "a" is now running (held by release)
    rest = [asyncio.ensure_future(committer.submit(grouped(c))) for c in "bcd"]
    await asyncio.sleep(0)
    runs.release.set()
    assert await asyncio.gather(first, *rest) == ["done a", "done b", "done c", "done d"]
    assert runs.groups == [["a"], ["b", "c", "d"]] and runs.alone == []


async def test_a_group_is_never_larger_than_max_group():
    runs = Transactions()
    runs.release.clear()
    committer = GroupCommitter(runs.run_group, runs.run_alone, max_group=2)
    waiting = [asyncio.ensure_future(committer.submit(grouped(c))) for c in "abcde"]
    await asyncio.sleep(0)
    runs.release.set()
    await asyncio.gather(*waiting)
    assert runs.groups == [["a", "b"], ["c", "d"], ["e"]] and runs.alone == []


async def test_a_failing_command_gets_its_own_error_and_the_others_their_answers():
    runs = Transactions()
    runs.release.clear()
    committer = GroupCommitter(runs.run_group, runs.run_alone)
    waiting = [asyncio.ensure_future(committer.submit(grouped(c)))
               for c in ("a", "kept", "bad", "b", "c")]
    await asyncio.sleep(0)
    runs.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert results[0] == "done a" and results[1] == "kept-answer"
    assert isinstance(results[2], ValueError) and str(results[2]) == "bad input"
    assert results[3:] == ["done b", "done c"]
    # The group ran, failed at "bad"; "bad" ran alone; the rest (less the kept answer,
    # which holds) ran again as a group.
    assert runs.groups == [["a", "kept", "bad", "b", "c"], ["a", "b", "c"]]
    assert runs.alone == ["bad"]


async def test_when_no_command_is_to_blame_each_runs_alone():
    runs = Transactions(outage=True)
    runs.release.clear()
    committer = GroupCommitter(runs.run_group, runs.run_alone)
    waiting = [asyncio.ensure_future(committer.submit(grouped(c))) for c in "abc"]
    await asyncio.sleep(0)
    runs.release.set()
    assert await asyncio.gather(*waiting) == ["done a", "done b", "done c"]
    assert runs.groups == [["a", "b", "c"]] and sorted(runs.alone) == ["a", "b", "c"]


async def test_a_caller_that_goes_away_does_not_undo_the_others():
    runs = Transactions()
    runs.release.clear()
    committer = GroupCommitter(runs.run_group, runs.run_alone)
    waiting = [asyncio.ensure_future(committer.submit(grouped(c))) for c in "abc"]
    await asyncio.sleep(0)
    waiting[1].cancel()
    runs.release.set()
    with pytest.raises(asyncio.CancelledError):
        await waiting[1]
    assert await asyncio.gather(waiting[0], waiting[2]) == ["done a", "done c"]
    assert runs.groups == [["a", "b", "c"]]


async def test_a_failing_group_of_one_reports_its_own_error_without_running_again():
    runs = Transactions()
    committer = GroupCommitter(runs.run_group, runs.run_alone)
    with pytest.raises(ValueError, match="bad input"):
        await committer.submit(grouped("bad"))
    assert runs.groups == [["bad"]] and runs.alone == []


async def test_a_command_the_group_leaves_out_runs_alone_without_holding_up_others():
    """A group leaves out (None) a command whose compose another transaction holds: it
    waits for that lock on its own while the next groups go on."""
    held = asyncio.Event()

    async def run_group(group: list[Grouped]) -> list[Any]:
        return [None if item.command == "held" else f"done {item.command}"
                for item in group]

    async def run_alone(item: Grouped) -> Any:
        await held.wait()
        return f"alone {item.command}"

    committer = GroupCommitter(run_group, run_alone)
    waiting = asyncio.ensure_future(committer.submit(grouped("held")))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(committer.submit(grouped("c")), 1) == "done c"
    assert not waiting.done()
    held.set()
    assert await waiting == "alone held"
