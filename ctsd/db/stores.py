"""SQL implementation of the compose storage port (`handlers.ports.ComposeStore`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ctsd import jsonio
from ctsd.db.compose_statements import (
    INSERT_COMPOSE,
    LOCK_COMPOSE,
    LOCK_COMPOSES,
    statements,
)
from ctsd.db.representation import (
    compose_representations,
    new_compose_representation,
    represent_rows,
    represent_with_relations,
)
from ctsd.db.respin_release import unused_counter_deletion
from ctsd.db.tables import (
    compose_changes,
    compose_parents,
    composes,
    respin_counters,
)
from handlers.ports import ComposeRef


class KeptAnswer(Exception):
    """next_respin found the answer kept for this very import (ctsd.lost_answers): the
    import must not happen again; its first answer is `answer`."""

    def __init__(self, answer: Any) -> None:
        super().__init__("a kept answer was claimed")
        self.answer = answer



class SqlComposeStore:
    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime],
                 allocator: AsyncEngine | None = None,
                 defer_change: Callable[[dict[str, Any]], None] | None = None,
                 auth_backend: Callable[[], str | None] = lambda: None) -> None:
        self._conn = conn
        # How the acting user authenticated; stamped on every history row.
        self._auth_backend = auth_backend
        self._now = now
        self._allocator = allocator
        # History rows are handed to the unit of work, which writes them at commit.
        self._defer_change = defer_change
        self._sql = statements(conn.dialect.name)
        # Respins taken in their own transactions, to give back if this one rolls back.
        self.allocated: list[tuple[str, int]] = []
        # Representations known in this transaction and not changed since: a command
        # that announces a change and then answers it reads the compose once, and a new
        # compose is known without reading it at all.
        self._fresh: dict[int, dict[str, Any]] = {}
        # Rows read by lock(): their columns stay valid until a column-changing method.
        self._locked_rows: dict[int, Any] = {}
        self._locked_pks: dict[str, int] = {}
        # Set by the unit of work for an import that may have a kept answer
        # (ctsd.lost_answers.claim_parameters); next_respin claims it.
        self.lost_answer: dict[str, Any] | None = None

    async def next_respin(self, stream: str, requested: int) -> int:
        if self._allocator is None:
            # SQLite has one writer at a time anyway: bump the counter in-transaction.
            return (await self._conn.execute(self._sql.bump_counter, {
                "stream": stream, "requested": requested})).scalar_one()
        # PostgreSQL: bump the counter in its own short transaction. Inside the import's
        # transaction the counter row would stay locked until that commit, so concurrent
        # imports of one stream would queue for whole transactions; here they queue for
        # one statement. The respin is taken before the compose is stored: if the import
        # then fails, the unit of work hands the respin back (see release_respins).
        params = {"stream": stream, "requested": requested}
        async with self._allocator.connect() as conn:
            if self.lost_answer is None:
                respin = (await conn.execute(self._sql.bump_counter, params)).scalar_one()
            else:
                row = (await conn.execute(self._sql.claim_then_bump,
                                          {**params, **self.lost_answer})).one()
                if row.kept is not None:
                    raise KeptAnswer(jsonio.loads(row.kept))
                respin = row.respin
        self.allocated.append((stream, respin))
        return respin

    async def release_respins(self) -> None:
        """Give back respins of an import that did not commit, where still possible.

        Only a respin that is still the stream's last can be given back; if a later import
        took the next one meanwhile, the respin stays unused (a gap, after a failure only).
        """
        if not self.allocated:
            return
        counter = respin_counters.c.last_respin
        assert self._allocator is not None
        async with self._allocator.connect() as conn:
            for stream, respin in self.allocated:
                await conn.execute(
                    update(respin_counters)
                    .where(respin_counters.c.stream == stream, counter == respin)
                    .values(last_respin=respin - 1)
                )
                # A counter this import created for a stream with no compose yet goes
                # too: a refused import leaves nothing behind (issue #15).
                await conn.execute(unused_counter_deletion(stream, respin - 1))
        self.allocated.clear()

    async def pks_of(self, compose_ids: list[str]) -> dict[str, int]:
        if not compose_ids:
            return {}
        rows = await self._conn.execute(
            select(composes.c.compose_id, composes.c.pk)
            .where(composes.c.compose_id.in_(compose_ids))
        )
        return {row.compose_id: row.pk for row in rows}

    async def insert(self, columns: dict[str, Any], compose_info: dict[str, Any],
                     builder: str, compose_url: str | None, respin_of_pk: int | None) -> int:
        result = await self._conn.execute(INSERT_COMPOSE, {
            **columns, "builder": builder, "compose_url": compose_url,
            "respin_of_pk": respin_of_pk,
            "compose_info": jsonio.dumps(compose_info).decode(),
            "created_at": self._now(),
        })
        pk = result.scalar_one()
        if respin_of_pk is None:
            self._fresh[pk] = new_compose_representation(compose_info, builder, compose_url)
        return pk

    async def add_parents(self, child_pk: int, parent_pks: list[int]) -> None:
        if parent_pks:
            self._fresh.pop(child_pk, None)
            await self._conn.execute(
                compose_parents.insert(),
                [{"child_pk": child_pk, "parent_pk": pk} for pk in parent_pks],
            )

    async def lock(self, compose_id: str) -> ComposeRef | None:
        pk = self._locked_pks.get(compose_id)
        if pk is not None and pk in self._locked_rows:
            # Locked earlier in this transaction (lock_all) and its columns unchanged since.
            row = self._locked_rows[pk]
        else:
            row = (await self._conn.execute(LOCK_COMPOSE, {"compose_id": compose_id})).first()
            if row is None:
                return None
            self._locked_rows[row.pk] = row
        return ComposeRef(row.pk, row.compose_id, row.compose_url)

    async def lock_all(self, compose_ids: list[str]) -> None:
        """Lock these composes now, in one statement; lock() then answers from what this
        read. Unknown ids are left out (lock() reports them)."""
        if not compose_ids:
            return
        rows = await self._conn.execute(LOCK_COMPOSES, {"compose_ids": compose_ids})
        for row in rows:
            self._locked_rows[row.pk] = row
            self._locked_pks[row.compose_id] = row.pk

    async def add_tag(self, compose_pk: int, tag_id: int) -> bool:
        return await self._change_tag(compose_pk, tag_id, added=True)

    async def remove_tag(self, compose_pk: int, tag_id: int) -> bool:
        return await self._change_tag(compose_pk, tag_id, added=False)

    async def _change_tag(self, compose_pk: int, tag_id: int, *, added: bool) -> bool:
        params = {"compose_pk": compose_pk, "tag_id": tag_id}
        with_relations = (self._sql.add_tag_with_relations if added
                          else self._sql.remove_tag_with_relations)
        locked = self._locked_rows.get(compose_pk)
        if with_relations is None or locked is None:
            self._fresh.pop(compose_pk, None)
            plain = self._sql.add_tag if added else self._sql.remove_tag
            return (await self._conn.execute(plain, params)).first() is not None
        row = (await self._conn.execute(with_relations, params)).one()
        # A new dict each time: an event queued earlier in this transaction holds the
        # representation it was given.
        before = represent_with_relations(locked, row)
        name = row.changed_name
        if name is not None:
            tag_names = set(before["tags"]) | {name} if added else set(before["tags"]) - {name}
            before["tags"] = sorted(tag_names)
        self._fresh[compose_pk] = before
        return name is not None

    async def set_url(self, compose_pk: int, url: str) -> None:
        self._fresh.pop(compose_pk, None)
        self._locked_rows.pop(compose_pk, None)
        await self._conn.execute(
            update(composes).where(composes.c.pk == compose_pk).values(compose_url=url)
        )

    async def set_build_status(self, compose_pk: int, status: str) -> bool:
        self._fresh.pop(compose_pk, None)
        self._locked_rows.pop(compose_pk, None)
        stmt = (
            update(composes)
            .where(composes.c.pk == compose_pk,
                   composes.c.build_status.is_distinct_from(status))
            .values(build_status=status)
            .returning(composes.c.pk)
        )
        return (await self._conn.execute(stmt)).first() is not None

    async def mark_removed(self, compose_pk: int, reason: str | None) -> bool:
        self._fresh.pop(compose_pk, None)
        self._locked_rows.pop(compose_pk, None)
        stmt = (
            update(composes)
            .where(composes.c.pk == compose_pk, composes.c.removed_at.is_(None))
            .values(removed_at=self._now(), removed_reason=reason)
            .returning(composes.c.pk)
        )
        return (await self._conn.execute(stmt)).first() is not None

    async def add_change(self, compose_pk: int, action: str, user: str, message: str,
                         user_data: str | None) -> None:
        row = {"compose_pk": compose_pk, "time": self._now(), "action": action, "user": user,
               "message": message, "user_data": user_data,
               "auth_backend": self._auth_backend()}
        if self._defer_change is not None:
            self._defer_change(row)
        else:
            await self._conn.execute(compose_changes.insert(), row)

    async def representation(self, compose_pk: int) -> dict[str, Any]:
        if compose_pk in self._fresh:
            return self._fresh[compose_pk]
        if compose_pk in self._locked_rows:
            (found,) = await represent_rows(self._conn, [self._locked_rows[compose_pk]])
        else:
            found = (await compose_representations(self._conn, [compose_pk]))[compose_pk]
        self._fresh[compose_pk] = found
        return found
