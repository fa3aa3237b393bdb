"""Imports' respins (and pks) allocated before their group's transaction (PostgreSQL).

In a group (ctsd.group_commit) the handlers run one after another, and each import's
allocation on the separate allocator (ctsd.db.respins) was a round trip the whole group
waited for. Allocated when the request arrives instead, concurrently with the others',
the group's transaction has only its commit statement left to wait for
(ctsd.db.waiting_composes). The handler takes the allocation made for it
(ctsd.db.respins.AllocatedAhead); one no transaction took is given back once its
command is answered. A kept answer (ctsd.db.kept_answers) is claimed here too, so an
import answered from one never joins a group.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ctsd.db.errors import is_outage
from ctsd.db.kept_answers import KeptAnswerClaim
from ctsd.db.respins import AllocatedAhead, SeparateTransactionRespins
from ctsd.db.uow import utcnow
from handlers.commands import ImportCompose
from handlers.composes import respin_wanted
from handlers.identity import Actor, Roles

log = logging.getLogger(__name__)


class AllocationsAhead:
    def __init__(self, respins: SeparateTransactionRespins, roles: Roles) -> None:
        self._respins = respins
        self._roles = roles
        # Give-backs in flight (the event loop keeps only weak references to tasks).
        self._releasing: set[asyncio.Task[None]] = set()

    async def allocate(self, command: ImportCompose, actor: Actor,
                       kept: KeptAnswerClaim | None) -> AllocatedAhead | None:
        """The import's allocation (or its claimed kept answer: respin None), if its
        handler will get that far on what the command carries; else None, and the
        handler says what is wrong."""
        wanted = respin_wanted(command, actor, self._roles)
        if wanted is None:
            return None
        stream, requested = wanted
        claim = kept.parameters(utcnow()) if kept is not None else None
        allocation = await self._respins.allocate(None, stream, requested, claim)
        return AllocatedAhead(stream, requested, allocation)

    async def give_back_unused(self, ahead: AllocatedAhead,
                               answered: asyncio.Future[Any]) -> None:
        """Give the respin back unless a transaction took it (that transaction gives
        back its own): now if `answered` (the command's answer) is done, so that a
        refused import has left nothing behind when its caller hears of it; else (its
        caller went away while the command still runs) once it is done."""
        if answered.done():
            await self._release_unless_taken(ahead)
            return
        def later(_: asyncio.Future[Any]) -> None:
            task = asyncio.ensure_future(self._release_unless_taken(ahead))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)
        answered.add_done_callback(later)

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
