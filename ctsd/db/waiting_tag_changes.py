"""Tag changes that wait for commit: decided from what the transaction knows of the
compose, written with the unit of work's other rows in its one commit statement.

In a group of HTTP commands or a bus batch (PostgreSQL), the lock of the composes also
reads their stored answers (ctsd.db.rendering) and the tags the commands name. A stored
answer is current when the lock reads it: every change to a compose or to its relations
rewrites or clears it in the same transaction, which updates the compose's row, and a
locking read returns a row's latest version. So whether a compose has a tag is known
without asking compose_tags, and the change itself can wait for commit: a tag change
costs no round trip of its own (ctsd.db.flush_statements.GROUP_FLUSH_WITH_TAG_CHANGES).
If a stored answer ever lied, a write shows it (a row that was or was not there):
StaleStoredAnswer rolls the transaction back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

# (compose pk, tag id) pairs
TagPairs = list[tuple[int, int]]


class StaleStoredAnswer(RuntimeError):
    """A tag change that waited for commit found the compose's tags other than its stored
    answer said: the invariant of ctsd.db.rendering broke. The transaction rolls back,
    the stored answers of `compose_pks` are cleared (ctsd.service), and the commands
    run again alone, the slow way, which reads the tags themselves."""

    def __init__(self, message: str, compose_pks: list[int]) -> None:
        super().__init__(message)
        self.compose_pks = compose_pks


class WaitingTagChanges:
    def __init__(self) -> None:
        # The tags (id: name) whose changes may wait: read with the composes' locks.
        self.names: dict[int, str] = {}
        # (compose pk, tag id) -> whether the compose had the tag before this
        # transaction, and whether it has it now.
        self._writes: dict[tuple[int, int], tuple[bool, bool]] = {}

    def change(self, compose_pk: int, tag_id: int, current: dict[str, Any], *,
               added: bool) -> dict[str, Any] | None:
        """Record the tag added to / removed from the compose whose representation is
        `current` (the tag is one of `names`); the representation after it, or None if
        the change is already in effect."""
        name = self.names[tag_id]
        had = name in current["tags"]
        if had == added:
            return None
        before, _ = self._writes.get((compose_pk, tag_id), (had, had))
        self._writes[(compose_pk, tag_id)] = (before, added)
        tag_names = set(current["tags"]) | {name} if added else set(current["tags"]) - {name}
        # A new dict: an event queued earlier in this transaction holds the one it got.
        return {**current, "tags": sorted(tag_names)}

    def take(self) -> tuple[TagPairs, TagPairs]:
        """The rows to add to and to remove from compose_tags, in order; forgotten here
        (the caller writes them)."""
        writes, self._writes = self._writes, {}
        added = sorted(key for key, (before, now) in writes.items() if now and not before)
        removed = sorted(key for key, (before, now) in writes.items() if before and not now)
        return added, removed

    async def write_now(self, conn: AsyncConnection, add: Any, remove: Any) -> None:
        """Write the waiting changes with the statements `add` and `remove` (one row each,
        RETURNING it): before a statement that reads compose_tags."""
        added, removed = self.take()
        for pairs, statement in ((added, add), (removed, remove)):
            for compose_pk, tag_id in pairs:
                found = await conn.execute(statement,
                                           {"compose_pk": compose_pk, "tag_id": tag_id})
                if found.first() is None:
                    raise StaleStoredAnswer(f"compose {compose_pk}: tag {tag_id} was not "
                                            "as its stored answer said", [compose_pk])


def check_written(added: TagPairs, removed: TagPairs, written: Any) -> None:
    """StaleStoredAnswer unless the commit statement's row (`written.added`,
    `written.removed`: rows it wrote) shows every waiting change changed a row."""
    if (written.added, written.removed) != (len(added), len(removed)):
        raise StaleStoredAnswer(
            f"tag changes at commit wrote {written.added} of {len(added)} additions and "
            f"{written.removed} of {len(removed)} removals",
            sorted({pk for pk, _ in added + removed}))
