"""New compose rows that wait for the commit statement (PostgreSQL).

An import on PostgreSQL knows its row's pk before its transaction starts (the separate
respin allocation takes it: ctsd.db.compose_statements.COMPOSE_PK), and the usual import
(Pungi's: no parents, no respin_of, no URL, no variants yet) writes nothing else that
refers to the row before commit. Its INSERT then goes into the commit statement with
its history and outbox rows (flush_statements.GROUP_FLUSH_WITH_COMPOSES), and a group of
such imports that sent nothing before (ctsd.db.driver_rows, `last=True`) is one
statement and one round trip, where it was BEGIN, an INSERT per import, the flush and
COMMIT.

Only where the command bus allows it (a group of HTTP imports, whose other statements
are imports' too) and the handler says that nothing follows; and the compose store
writes the waiting rows first before anything of its own that could read or refer to
them (a later import naming one as parent, say).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.compose_statements import INSERT_COMPOSE_WITH_PK
from ctsd.db.driver_rows import rows_of
from ctsd.db.predicted_imports import PredictionUnusable


class WaitingComposes:
    def __init__(self) -> None:
        # Set by the command bus where rows may wait (else every insert is sent at once).
        self.at_commit = False
        # The compose rows (NEW_COMPOSE_COLUMNS), in the order of their imports.
        self._rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)

    def take(self) -> list[dict[str, Any]]:
        """The rows waiting, in order (the unit of work writes them at commit); none
        wait afterwards."""
        rows, self._rows = self._rows, []
        return rows

    async def write_now(self, conn: AsyncConnection) -> None:
        """Insert the waiting rows now, in order, before a statement that may read them.
        A predicted import's row (a placeholder pk) cannot be: its respin is allocated
        by the commit statement only (ctsd.db.predicted_imports)."""
        if any(row["pk"] < 0 for row in self._rows):
            raise PredictionUnusable("a statement reads composes before commit")
        for row in self.take():
            await rows_of(conn, INSERT_COMPOSE_WITH_PK,
                          {f"new_{name}": value for name, value in row.items()})


def new_compose_params(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """GROUP_FLUSH_WITH_COMPOSES's parameter beside group_flush_params': the rows
    (NEW_COMPOSE_COLUMNS), in order, as one JSON parameter."""
    return {"n_rows": rows}
