"""SQL implementation of the compose storage port (`handlers.ports.ComposeStore`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd import jsonio
from ctsd.db.compose_statements import (
    INSERT_COMPOSE,
    INSERT_COMPOSE_WITH_PK,
    LOCK_COMPOSE,
    statements,
)
from ctsd.db.driver_rows import rows_of
from ctsd.db.import_allocations import ImportAllocations
from ctsd.db.known_composes import KnownComposes, changes_compose
from ctsd.db.predicted_imports import PredictionUnusable
from ctsd.db.rendering import FORGET_ANSWERS, FORGET_TAGGED_ANSWERS
from ctsd.db.representation import (
    compose_representations,
    new_compose_representation,
    represent_rows,
    represent_with_relations,
)
from ctsd.db.respins import InTransactionRespins, RespinAllocator
from ctsd.db.tables import compose_changes, compose_parents, composes
from ctsd.db.waiting_composes import WaitingComposes
from ctsd.db.waiting_tag_changes import TagPairs, WaitingTagChanges
from handlers.ports import ComposeRef, RespinGrant


class SqlComposeStore:
    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime],
                 respins: RespinAllocator | None = None,
                 defer_change: Callable[[dict[str, Any]], None] | None = None,
                 auth_backend: Callable[[], str | None] = lambda: None, *,
                 on_tags: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        self._conn = conn
        # Tags read by lock_all, handed to the transaction's tag store.
        self._on_tags = on_tags
        # How the acting user authenticated; stamped on every history row.
        self._auth_backend = auth_backend
        self._now = now
        self.allocations = ImportAllocations(conn, respins or InTransactionRespins())
        # History rows are handed to the unit of work, which writes them at commit.
        self._defer_change = defer_change
        self._sql = statements(conn.dialect.name)
        self._known = KnownComposes()
        # Tag changes that wait for commit (lock_all's `tag_changes_at_commit`).
        self._waiting = WaitingTagChanges()
        # New compose rows that may wait for commit (ctsd.db.waiting_composes): the
        # store writes them before any statement of its own that may read them.
        self.new_rows = WaitingComposes()

    async def allocate_respin(self, stream: str, requested: int) -> RespinGrant:
        allocation = await self.allocations.allocate(stream, requested,
                                                     may_predict=self.new_rows.at_commit)
        return RespinGrant(allocation.respin, kept_answer=allocation.kept_answer)

    async def pks_of(self, compose_ids: list[str]) -> dict[str, int]:
        if not compose_ids:
            return {}
        await self.new_rows.write_now(self._conn)
        rows = await self._conn.execute(
            select(composes.c.compose_id, composes.c.pk)
            .where(composes.c.compose_id.in_(compose_ids))
        )
        return {row.compose_id: row.pk for row in rows}

    async def insert(self, columns: dict[str, Any], compose_info: dict[str, Any],
                     builder: str, compose_url: str | None, respin_of_pk: int | None, *,
                     more_rows: bool = True) -> int:
        # Without respin_of, its answer is known before the row is: stored by the INSERT.
        known = (new_compose_representation(compose_info, builder, compose_url)
                 if respin_of_pk is None else None)
        values = {
            **columns, "builder": builder, "compose_url": compose_url,
            "respin_of_pk": respin_of_pk,
            "compose_info": jsonio.dumps(compose_info).decode(),
            "created_at": self._now(),
            "rendered": None if known is None else jsonio.dumps(known).decode(),
        }
        pk = self.allocations.take_pk()
        if pk is not None and self.new_rows.at_commit and not more_rows:
            self.new_rows.add({"pk": pk, **values})
        elif pk is not None and pk < 0:
            raise PredictionUnusable("a predicted import writes more than its row")
        else:
            statement = INSERT_COMPOSE if pk is None else INSERT_COMPOSE_WITH_PK
            params = {f"new_{name}": value for name, value in values.items()}
            (inserted,) = await rows_of(self._conn, statement,
                                        params if pk is None else {"new_pk": pk, **params})
            pk = inserted.pk
        assert pk is not None
        if known is None:
            self._known.changed.add(pk)
            assert respin_of_pk is not None
            await self.forget_stored_answers([respin_of_pk])  # it gains a respun_by entry
        else:
            self._known.representations[pk] = known
        return pk

    async def add_parents(self, child_pk: int, parent_pks: list[int]) -> None:
        if parent_pks:  # nothing to forget for the usual import without parents
            await self.new_rows.write_now(self._conn)
            await self._insert_parents(child_pk, parent_pks)

    @changes_compose(columns=False)
    async def _insert_parents(self, child_pk: int, parent_pks: list[int]) -> None:
        await self._conn.execute(
            compose_parents.insert(),
            [{"child_pk": child_pk, "parent_pk": pk} for pk in parent_pks],
        )
        await self.forget_stored_answers(parent_pks)  # each gains a child

    async def forget_stored_answers(self, compose_pks: list[int]) -> None:
        """Composes whose answer another change altered (or that may be stale): stored
        answers set to NULL (ctsd.db.rendering), so GET builds them live until a change
        stores them again, and what this transaction knew of them forgotten."""
        for pk in compose_pks:
            self._known.representations.pop(pk, None)
            self._known.answers.pop(pk, None)
        await self.new_rows.write_now(self._conn)
        await self._conn.execute(FORGET_ANSWERS, {"pks": sorted(compose_pks)})

    async def forget_tagged_answers(self, tag_id: int) -> None:
        """A tag was renamed: the answers of the composes carrying it are stale."""
        self._known.representations.clear()
        self._known.answers.clear()
        self._waiting.names.clear()
        await self.write_tag_changes()  # the statement below reads compose_tags
        await self._conn.execute(FORGET_TAGGED_ANSWERS, {"tag_id": tag_id})

    async def answers_to_store(self) -> list[dict[str, Any]]:
        """The answers of the composes this transaction changed, as they are now, for
        the unit of work to store at commit (parameters of rendering.STORE_ANSWER)."""
        changed = sorted(self._known.changed)
        self._known.changed.clear()
        return [{"answer_pk": pk,
                 "answer_text": jsonio.dumps(await self.representation(pk)).decode()}
                for pk in changed]

    async def lock(self, compose_id: str) -> ComposeRef | None:
        pk = self._known.pks.get(compose_id)
        if pk is not None and pk in self._known.rows:
            # Locked earlier in this transaction (lock_all) and its columns unchanged since.
            row = self._known.rows[pk]
        else:
            await self.new_rows.write_now(self._conn)
            found = await rows_of(self._conn, LOCK_COMPOSE, {"compose_id": compose_id})
            if not found:
                return None
            (row,) = found
            self._known.rows[row.pk] = row
        return ComposeRef(row.pk, row.compose_id, row.compose_url)

    async def lock_all(self, compose_ids: list[str], *, skip_locked: bool = False,
                       tag_names: list[str] | None = None,
                       tag_changes_at_commit: bool = False) -> set[str]:
        """Lock these composes now, in one statement; lock() then answers from what this
        read. Unknown ids are left out (lock() reports them), and with `skip_locked`
        those another transaction holds too. The ids locked.

        On PostgreSQL the same statement reads the tags named `tag_names` (the tags the
        commands will change) for `on_tags`, unless it locked nothing. With
        `tag_changes_at_commit` changes of these tags on these composes are not sent
        until commit, where the unit of work writes them with its other rows
        (`tag_changes_to_write`): a tag change then costs no round trip of its own.
        Only for commands that read no compose's tags but through this store (imports,
        tag changes, URLs): the store writes the waiting changes before it reads tags
        itself."""
        if not compose_ids:
            return set()
        await self.new_rows.write_now(self._conn)
        with_tags = (self._sql.lock_all_skip_locked_with_tags if skip_locked
                     else self._sql.lock_all_with_tags)
        params: dict[str, Any] = {"compose_ids": compose_ids}
        if tag_names and with_tags is not None and self._on_tags is not None:
            params["tag_names"] = tag_names
            rows = await rows_of(self._conn, with_tags, params)
            if rows and rows[0].named_tags is not None:
                named = jsonio.loads(rows[0].named_tags)
                self._on_tags(named)
                if tag_changes_at_commit:
                    self._waiting.names.update((tag["id"], tag["name"]) for tag in named)
        else:
            statement = self._sql.lock_all_skip_locked if skip_locked else self._sql.lock_all
            rows = await rows_of(self._conn, statement, params)
        for row in rows:
            self._known.rows[row.pk] = row
            self._known.pks[row.compose_id] = row.pk
            if row.rendered is not None and row.pk not in self._known.changed:
                self._known.answers[row.pk] = row.rendered
        return set(self._known.pks) & set(compose_ids)

    async def add_tag(self, compose_pk: int, tag_id: int) -> bool:
        return await self._change_tag(compose_pk, tag_id, added=True)

    async def remove_tag(self, compose_pk: int, tag_id: int) -> bool:
        return await self._change_tag(compose_pk, tag_id, added=False)

    async def _change_tag(self, compose_pk: int, tag_id: int, *, added: bool) -> bool:
        current = (self._known.current(compose_pk) if tag_id in self._waiting.names
                   else None)
        if current is None:
            await self.write_tag_changes()  # the statement below reads compose_tags
            return await self._change_tag_now(compose_pk, tag_id, added=added)
        after = self._waiting.change(compose_pk, tag_id, current, added=added)
        if after is None:
            return False  # already in effect: nothing to write, the answer stands
        self._known.representations[compose_pk] = after
        self._known.changed.add(compose_pk)
        return True

    def tag_changes_to_write(self) -> tuple[TagPairs, TagPairs]:
        """The tag changes waiting for commit (ctsd.db.waiting_tag_changes), as rows to
        add to and to remove from compose_tags; the unit of work writes them."""
        return self._waiting.take()

    async def write_tag_changes(self) -> None:
        """Write the tag changes waiting for commit now."""
        await self._waiting.write_now(self._conn, self._sql.add_tag, self._sql.remove_tag)

    @changes_compose(columns=False)
    async def _change_tag_now(self, compose_pk: int, tag_id: int, *, added: bool) -> bool:
        params = {"compose_pk": compose_pk, "tag_id": tag_id}
        with_relations = (self._sql.add_tag_with_relations if added
                          else self._sql.remove_tag_with_relations)
        locked = self._known.rows.get(compose_pk)
        if with_relations is None or locked is None:
            plain = self._sql.add_tag if added else self._sql.remove_tag
            return (await self._conn.execute(plain, params)).first() is not None
        (row,) = await rows_of(self._conn, with_relations, params)
        # A new dict each time: an event queued earlier in this transaction holds the
        # representation it was given.
        before = represent_with_relations(locked, row)
        name = row.changed_name
        if name is not None:
            tag_names = set(before["tags"]) | {name} if added else set(before["tags"]) - {name}
            before["tags"] = sorted(tag_names)
        self._known.representations[compose_pk] = before
        return name is not None

    @changes_compose(columns=True)
    async def set_url(self, compose_pk: int, url: str) -> None:
        await self._conn.execute(
            update(composes).where(composes.c.pk == compose_pk).values(compose_url=url)
        )

    @changes_compose(columns=True)
    async def set_build_status(self, compose_pk: int, status: str) -> bool:
        stmt = (
            update(composes)
            .where(composes.c.pk == compose_pk,
                   composes.c.build_status.is_distinct_from(status))
            .values(build_status=status)
            .returning(composes.c.pk)
        )
        return (await self._conn.execute(stmt)).first() is not None

    @changes_compose(columns=True)
    async def mark_removed(self, compose_pk: int, reason: str | None) -> bool:
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
        known = self._known
        current = known.current(compose_pk)
        if current is not None:
            return current
        await self.write_tag_changes()  # the queries below read compose_tags
        await self.new_rows.write_now(self._conn)
        if compose_pk in known.rows:
            (found,) = await represent_rows(self._conn, [known.rows[compose_pk]])
        else:
            found = (await compose_representations(self._conn, [compose_pk]))[compose_pk]
        known.representations[compose_pk] = found
        return found
