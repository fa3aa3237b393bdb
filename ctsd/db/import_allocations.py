"""What a transaction's imports took from the respin allocator (ctsd.db.respins), for the
compose store: their respins (to give back if the transaction rolls back), the pk the
last allocation took for the row its import inserts, and the claim of a kept answer;
and the respins predicted instead (ctsd.db.predicted_imports), which the commit
statement allocates and checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.predicted_imports import PredictedImport
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
        # The pk the last allocation took for the import it serves (PostgreSQL); for a
        # predicted one, a placeholder (negative) the commit statement maps to its pk.
        self._pk: int | None = None
        # Predicted respins taken, in order: the commit statement allocates them.
        self.predicted: list[PredictedImport] = []
        # Allocations made ahead that this transaction took: free again if it rolls back.
        self._taken_ahead: list[AllocatedAhead] = []

    def next_command(self) -> None:
        """What the bus set for one command of a batch does not carry over to the next."""
        self.kept_answer_claim = None
        self.claimed_kept_answer = False
        self.ahead = None

    async def allocate(self, stream: str, requested: int, *,
                       may_predict: bool = False) -> Allocation:
        """The import's allocation: the one made ahead for it if any, else a new one.
        A predicted respin is taken only where `may_predict` (the import's row waits
        for the commit statement, which then allocates it)."""
        ahead, self.ahead = self.ahead, None
        if ahead is not None and ahead.predicted and not may_predict:
            ahead = None
        allocation = ahead.take(stream, requested) if ahead is not None else None
        if allocation is not None and ahead is not None and ahead.predicted:
            assert allocation.respin is not None
            self.predicted.append(PredictedImport(stream, requested, allocation.respin,
                                                  self.kept_answer_claim))
            self._pk = -len(self.predicted)
            return allocation
        if allocation is not None and ahead is not None:
            self._taken_ahead.append(ahead)
            self._pk = allocation.pk
            return allocation
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

    def free_taken_ahead(self) -> None:
        """The transaction rolls back: the allocations made ahead that it took are free
        again, for the command's next try (the command bus gives back one that no
        transaction kept). Given back here instead, one would leave a gap in its
        stream whenever a later import had taken the next respin meanwhile, as under a
        burst of one stream's imports."""
        for ahead in self._taken_ahead:
            ahead.taken = False
        self._taken_ahead.clear()

    async def release(self) -> None:
        """Give back respins this transaction allocated, where still possible."""
        if self.allocated:
            await self._respins.release(self.allocated)
            self.allocated.clear()
