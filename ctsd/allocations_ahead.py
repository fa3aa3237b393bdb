"""Imports' respins (and pks) allocated before their group's transaction (PostgreSQL).

In a group (ctsd.group_commit) the handlers run one after another, and each import's
allocation on the separate allocator (ctsd.db.respins) was a round trip the whole group
waited for. Allocated when the request arrives instead, concurrently with the others',
the group's transaction has only its commit statement left to wait for
(ctsd.db.waiting_composes). The handler takes the allocation made for it
(ctsd.db.respins.AllocatedAhead); one no transaction took is given back once its
command is answered. A kept answer (ctsd.db.kept_answers) is claimed here too, so an
import answered from one never joins a group.

Allocations asked for while one is on its way wait for it and then go together, in one
statement (ctsd.db.respin_batches), one import per stream in each: the group commit of
allocations.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ctsd.db.errors import is_outage
from ctsd.db.kept_answers import KeptAnswerClaim
from ctsd.db.respin_batches import WantedRespin
from ctsd.db.respins import AllocatedAhead, Allocation, SeparateTransactionRespins
from ctsd.db.uow import utcnow
from ctsd.observability import tracing

log = logging.getLogger(__name__)
# Allocations asked for, each with where its answer goes.
Waiting = list[tuple[WantedRespin, "asyncio.Future[Allocation]"]]


class AllocationsAhead:
    def __init__(self, respins: SeparateTransactionRespins) -> None:
        self._respins = respins
        # Give-backs and batches in flight (the loop keeps only weak references).
        self._tasks: set[asyncio.Task[None]] = set()
        # Allocations waiting for the batch on its way to finish.
        self._waiting: Waiting = []
        self._sending = False

    async def allocate(self, wanted: tuple[str, int],
                       kept: KeptAnswerClaim | None) -> AllocatedAhead:
        """The allocation (or the claimed kept answer: respin None) of an import that
        asks for this stream and respin (handlers.composes.respin_wanted)."""
        stream, requested = wanted
        claim = kept.parameters(utcnow()) if kept is not None else None
        if tracing.enabled():  # alone, in the request's own span (no batch)
            allocation = await self._respins.allocate(None, stream, requested, claim)
            return AllocatedAhead(stream, requested, allocation)
        answer: asyncio.Future[Allocation] = asyncio.get_running_loop().create_future()
        self._waiting.append((WantedRespin(stream, requested, claim), answer))
        if not self._sending:
            self._sending = True
            self._spawn(self._send_batches())
        return AllocatedAhead(stream, requested, await answer)

    async def _send_batches(self) -> None:
        batch: Waiting = []
        try:
            while self._waiting:
                batch, self._waiting = _one_per_stream(self._waiting)
                results = await self._respins.allocate_batch([item for item, _ in batch])
                for (item, answer), result in zip(batch, results, strict=True):
                    if answer.done():  # its caller went away: nothing will take it
                        if isinstance(result, Allocation):
                            self._spawn(self._release_unless_taken(
                                AllocatedAhead(item.stream, item.requested, result)))
                    elif isinstance(result, Allocation):
                        answer.set_result(result)
                    else:
                        answer.set_exception(result)
        except BaseException as exc:
            # Nobody is left waiting for batches that will not come (cancelled at exit).
            for _, answer in [*batch, *self._waiting]:
                if answer.done():
                    continue
                if isinstance(exc, Exception):
                    answer.set_exception(exc)
                else:
                    answer.cancel()
            self._waiting = []
            raise
        finally:
            self._sending = False

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def give_back_unused(self, ahead: AllocatedAhead,
                               answered: asyncio.Future[Any]) -> None:
        """Give the respin back unless a transaction took it (that transaction gives
        back its own): now if `answered` (the command's answer) is done, so that a
        refused import has left nothing behind when its caller hears of it; else (its
        caller went away while the command still runs) once it is done."""
        if answered.done():
            await self._release_unless_taken(ahead)
            return
        answered.add_done_callback(lambda _: self._spawn(self._release_unless_taken(ahead)))

    async def _release_unless_taken(self, ahead: AllocatedAhead) -> None:
        if ahead.taken or ahead.allocation.respin is None:
            return
        ahead.taken = True
        allocated = [(ahead.stream, ahead.allocation.respin)]
        try:
            await self._respins.release(allocated)
        except Exception as exc:
            # Best effort, as the unit of work's: failing here only leaves a gap.
            log.warning("could not give back respins %s", allocated,
                        exc_info=not is_outage(exc))


def _one_per_stream(waiting: Waiting, most: int = 64) -> tuple[Waiting, Waiting]:
    """The next batch (in order, at most one allocation per stream, at most `most`)
    and what waits for the one after it."""
    batch: Waiting = []
    rest: Waiting = []
    streams: set[str] = set()
    for entry in waiting:
        stream = entry[0].stream
        if stream in streams or len(batch) >= most:
            rest.append(entry)
        else:
            streams.add(stream)
            batch.append(entry)
    return batch, rest
