"""Group commit: HTTP commands that arrive while this process already has a write
transaction running wait for it, then run together in ONE transaction.

Most of a small command's cost is not its work but BEGIN, the flush of its history and
outbox rows, COMMIT and the fsync behind it, one round trip each. Under load the
commands of a group share those: N tags cost one BEGIN, one statement locking their N
composes, N tag statements, one flush and one COMMIT. Each caller still gets its own
answer, its own history row and its own event, exactly as when it runs alone.

Nothing waits when nothing is running: a command on an idle process starts at once, as a
group of one. A group is at most `max_group` commands, and at most `max_transactions`
groups run at a time per process. A group locks its composes with SKIP LOCKED: a
command whose compose another transaction holds is left out and runs alone, waiting for
that lock without holding up anyone else.

A command that fails makes its group's transaction fail: nothing of it is kept. The
failing command then runs alone, so that its caller gets its own error, and the others
run again as a group without it (a group of one just reports its error). Respins taken
for the undone imports are given back (ctsd.db.respins); an import that was answered
from a kept answer (ctsd.db.kept_answers) keeps it, since its claim committed on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from handlers.identity import Actor

# The command bus's own types (ctsd.envelopes.Request and Outcome): this module runs
# groups for it and does not look into them.
Request = Any
Outcome = Any
log = logging.getLogger(__name__)


@dataclass
class Grouped:
    """One command waiting for its group, and where its answer goes."""

    command: Any
    actor: Actor
    request: Request
    answer: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    # Set when the command was answered from a kept answer whose claim has committed:
    # its answer holds even if the group's transaction does not.
    final: Outcome | None = None


class GroupFailed(Exception):
    """The group's transaction failed because of the command at `index`."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(f"command {index} of the group failed: {error!r}")
        self.index = index
        self.error = error


# Runs a group in one transaction (CommandBus.run_group): an outcome per command, or
# None for one the group left out (its compose is held elsewhere: it runs alone);
# raises GroupFailed naming the command whose handler failed, or the error itself when
# no command is to blame.
RunGroup = Callable[[list[Grouped]], Awaitable[list[Outcome | None]]]
# Runs one command alone, the usual way (CommandBus.execute without grouping).
RunAlone = Callable[[Grouped], Awaitable[Outcome]]


class GroupCommitter:
    def __init__(self, run_group: RunGroup, run_alone: RunAlone, *,
                 max_transactions: int = 1, max_group: int = 64) -> None:
        self._run_group = run_group
        self._run_alone = run_alone
        self._max_transactions = max_transactions
        self._max_group = max_group
        self._waiting: list[Grouped] = []
        self._running = 0
        # The event loop keeps only weak references to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def submit(self, item: Grouped) -> Outcome:
        self._waiting.append(item)
        if self._running < self._max_transactions:
            self._running += 1
            self._spawn(self._drain())
        # Shielded: a caller that goes away must not cancel the others' transaction.
        return await asyncio.shield(item.answer)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[:self._max_group]
                del self._waiting[:self._max_group]
                await self._settle(group)
        finally:
            self._running -= 1

    async def _settle(self, group: list[Grouped]) -> None:
        """Answer every command of `group`, each with its own outcome or error.

        Only the group's own transaction runs in this slot. It skips composes that other
        transactions hold; what must run alone (those commands, a failed command, every
        command after a failure no command is to blame for) runs in a task of its own,
        so a lock held elsewhere never holds up the groups behind it."""
        if not group:
            return
        try:
            outcomes = await self._run_group(group)
        except GroupFailed as failed:
            if len(group) == 1:
                _fail(group[0], failed.error)
                return
            blamed = group[failed.index]
            log.debug("group of %d: command %d failed (%r); it runs alone",
                      len(group), failed.index, failed.error)
            self._spawn(self._answer_alone(blamed))
            rest = [item for item in group if item is not blamed]
            for item in rest:
                if item.final is not None:
                    _resolve(item, item.final)
            await self._settle([item for item in rest if item.final is None])
            return
        except Exception as exc:
            if len(group) == 1:
                _fail(group[0], exc)
                return
            # Not one command's fault (the database went away, say): each runs alone
            # and gets its own answer or its own error.
            for item in group:
                self._spawn(self._answer_alone(item))
            return
        for item, outcome in zip(group, outcomes, strict=True):
            if outcome is None:
                self._spawn(self._answer_alone(item))  # its compose is held elsewhere
            else:
                _resolve(item, outcome)

    async def _answer_alone(self, item: Grouped) -> None:
        try:
            outcome = await self._run_alone(item)
        except Exception as exc:
            _fail(item, exc)
            return
        _resolve(item, outcome)


def _fail(item: Grouped, error: BaseException) -> None:
    if not item.answer.done():
        item.answer.set_exception(error)


def _resolve(item: Grouped, outcome: Outcome | None) -> None:
    if not item.answer.done() and outcome is not None:
        item.answer.set_result(outcome)
