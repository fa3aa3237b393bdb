"""SQL implementation of the tag gate port (handlers.ports)."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.driver_rows import rows_of
from ctsd.db.tables import tag_gates, tags

__all__ = ["GATE_KINDS", "SqlGateStore", "gates_of"]

GATE_KINDS = ("requires", "excludes")


# Built once: every tag change reads the gates of its tag.
_GATES_OF = (select(tag_gates.c.kind, tags.c.name)
             .join(tags, tags.c.id == tag_gates.c.other_tag_id)
             .where(tag_gates.c.tag_id == bindparam("tag_id")).order_by(tags.c.name))


async def gates_of(conn: AsyncConnection, tag_id: int) -> dict[str, list[str]]:
    """{"requires": [names], "excludes": [names]}, names sorted."""
    rows = await rows_of(conn, _GATES_OF, {"tag_id": tag_id})
    found: dict[str, list[str]] = {kind: [] for kind in GATE_KINDS}
    for row in rows:
        found[row.kind].append(row.name)
    return found


class SqlGateStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        # Read once per transaction and tag: a batch of bus messages tagging many
        # composes with one tag asks for its gates once (forgotten when replaced here).
        self._known: dict[int, dict[str, list[str]]] = {}

    def know(self, tag_id: int, gates: dict[str, list[str]]) -> None:
        """Gates read with their tag in this transaction (ctsd.db.tag_store); a read of
        its own earlier in the transaction is kept."""
        self._known.setdefault(tag_id, gates)

    async def of(self, tag_id: int) -> dict[str, list[str]]:
        if tag_id not in self._known:
            self._known[tag_id] = await gates_of(self._conn, tag_id)
        return self._known[tag_id]

    async def requires_edges(self) -> list[tuple[int, int]]:
        rows = await self._conn.execute(
            select(tag_gates.c.tag_id, tag_gates.c.other_tag_id)
            .where(tag_gates.c.kind == "requires"))
        return [(row.tag_id, row.other_tag_id) for row in rows]

    async def replace(self, tag_id: int, requires: list[int], excludes: list[int]) -> None:
        self._known.clear()
        await self._conn.execute(delete(tag_gates).where(tag_gates.c.tag_id == tag_id))
        rows = [{"tag_id": tag_id, "kind": kind, "other_tag_id": other}
                for kind, others in (("requires", requires), ("excludes", excludes))
                for other in others]
        if rows:
            await self._conn.execute(tag_gates.insert(), rows)
