"""What a transaction's imports took from the respin allocator (ctsd.db.respins), for the
compose store: their respins (to give back if the transaction rolls back), the pk the
last allocation took for the row its import inserts, and the claim of a kept answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.respins import AllocatedAhead, Allocation, RespinAllocator


class ImportAllocations:
    def __init__(self, conn: AsyncConnection, respins: RespinAllocator) -> None:
        self._conn = conn
        self._respins = respins
        # Respins taken in their own transactions, to give back if this one rolls back.
        self.allocated: list[tuple[str, int]] = []
        # Set by the command bus for an import that may have a kept answer
        # (ctsd.db.kept_answers.KeptAnswerClaim.parameters); the allocation claims it.
        self.kept_answer_claim: dict[str, Any] | None = None
        self.claimed_kept_answer = False
        # Set by the command bus for an import allocated before its transaction.
        self.ahead: AllocatedAhead | None = None
        # The pk the last allocation took for the import it serves (PostgreSQL).
        self._pk: int | None = None

    def next_command(self) -> None:
        """What the bus set for one command of a batch does not carry over to the next."""
        self.kept_answer_claim = None
        self.claimed_kept_answer = False
        self.ahead = None

    async def allocate(self, stream: str, requested: int) -> Allocation:
        """The import's allocation: the one made ahead for it if any, else a new one."""
        ahead, self.ahead = self.ahead, None
        allocation = ahead.take(stream, requested) if ahead is not None else None
        if allocation is None:
            allocation = await self._respins.allocate(self._conn, stream, requested,
                                                      self.kept_answer_claim)
        if allocation.respin is None:
            # An identical import of this caller committed and its answer was lost.
            self.claimed_kept_answer = True
        else:
            self.allocated.append((stream, allocation.respin))
            self._pk = allocation.pk
        return allocation

    def take_pk(self) -> int | None:
        """The pk the last allocation took, for the one row its import inserts."""
        pk, self._pk = self._pk, None
        return pk

    async def release(self) -> None:
        """Give back respins of imports that did not commit, where still possible."""
        if self.allocated:
            await self._respins.release(self.allocated)
            self.allocated.clear()
