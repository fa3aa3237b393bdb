"""SQL implementation of the tag storage port (`handlers.ports.TagStore`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Text, any_, bindparam, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.driver_rows import rows_of
from ctsd.db.engine import upsert_insert
from ctsd.db.gate_store import GATE_KINDS
from ctsd.db.tables import tag_changes, tag_gates, tag_permissions, tags
from handlers.identifiers import row_id_from_text
from handlers.ports import TagRecord


def _tag_with_permissions(wanted: Any) -> Any:
    return (select(tags, tag_permissions.c.role, tag_permissions.c.kind,
                   tag_permissions.c.name.label("principal"))
            .outerjoin(tag_permissions, tag_permissions.c.tag_id == tags.c.id)
            .where(wanted))


def _gate_column(label: str, column: Any, other: Any) -> Any:
    """The tag's gates' kinds or other tags' names, ordered by name (NULL: no gates)."""
    return (select(func.array_agg(aggregate_order_by(column, other.c.name)))
            .join_from(tag_gates, other, other.c.id == tag_gates.c.other_tag_id)
            .where(tag_gates.c.tag_id == tags.c.id)
            .scalar_subquery().label(label))


def _tag_with_gates(wanted: Any) -> Any:
    """PostgreSQL: the tag and its permissions with its gates, which a tag change reads
    next, in the same round trip (one of about eight for a group of tag changes)."""
    other = tags.alias("gated")
    return _tag_with_permissions(wanted).add_columns(
        _gate_column("gate_kinds", tag_gates.c.kind, other),
        _gate_column("gate_names", other.c.name, other))


# Built once: every tag and untag reads its tag.
_BY_NAME = tags.c.name == bindparam("name")
_BY_NAME_OR_ID = (tags.c.name == bindparam("name")) | (tags.c.id == bindparam("id"))
# Keyed by "with its gates" (PostgreSQL; SQLite has no array_agg).
_TAG_BY_NAME = {False: _tag_with_permissions(_BY_NAME), True: _tag_with_gates(_BY_NAME)}
_TAG_BY_NAME_OR_ID = {False: _tag_with_permissions(_BY_NAME_OR_ID),
                      True: _tag_with_gates(_BY_NAME_OR_ID)}


# PostgreSQL: the tags named by the commands of a group or a batch, with their gates,
# as one JSON array, read by the statement that locks their composes
# (ctsd.db.compose_statements): a tag change then has no tag to read in a trip of its
# own. Tags are not guarded by a compose's lock, so reading them at the start of the
# locking statement is as current as reading them right after it.
# As text: the driver and SQLAlchemy's usual path (ctsd.db.driver_rows) then agree.
NAMED_TAGS_JSON = (
    select(cast(func.json_agg(_tag_with_gates(
        tags.c.name == any_(bindparam("tag_names", type_=ARRAY(tags.c.name.type))))
        .subquery("named_tag").table_valued()), Text))
    .scalar_subquery().label("named_tags"))


def _gates_of_row(row: Any) -> dict[str, list[str]]:
    gates: dict[str, list[str]] = {kind: [] for kind in GATE_KINDS}
    for kind, name in zip(row.gate_kinds or [], row.gate_names or [], strict=True):
        gates[kind].append(name)
    return gates


class SqlTagStore:
    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime],
                 auth_backend: Callable[[], str | None] = lambda: None, *,
                 on_rename: Callable[[int], Awaitable[None]] | None = None,
                 on_gates: Callable[[int, dict[str, list[str]]], None] | None = None) -> None:
        self._conn = conn
        self._now = now
        # The stored answers of composes carrying a renamed tag name it: told here
        # (SqlComposeStore.forget_tagged_answers).
        self._on_rename = on_rename
        # How the acting user authenticated; stamped on every history row.
        self._auth_backend = auth_backend
        # On PostgreSQL a tag is read with its gates, handed to the gate store here.
        self._on_gates = on_gates
        self._records: dict[str, TagRecord | None] = {}

    async def get(self, id_or_name: str) -> TagRecord | None:
        # A batch of bus messages shares one transaction and mostly names a few tags:
        # each is read once per transaction (this store lives as long as its
        # transaction, and forgets what it read when it changes a tag itself).
        key = str(id_or_name)
        if key not in self._records:
            self._records[key] = await self._read(key)
        return self._records[key]

    async def _read(self, id_or_name: str) -> TagRecord | None:
        # One query: the tag with its permission rows (none → one row of NULLs).
        tag_id = row_id_from_text(id_or_name)
        with_gates = self._conn.dialect.name == "postgresql"
        if tag_id is not None:
            rows = await rows_of(self._conn, _TAG_BY_NAME_OR_ID[with_gates],
                                 {"name": id_or_name, "id": tag_id})
        else:
            rows = await rows_of(self._conn, _TAG_BY_NAME[with_gates], {"name": id_or_name})
        if not rows:
            return None
        # A name match wins over an id match (tag names are never all digits anyway).
        by_name = [row for row in rows if row.name == str(id_or_name)]
        return self._record_of(by_name or rows, with_gates=with_gates)

    def know(self, named_tags: list[dict[str, Any]]) -> None:
        """Tags read by name in this transaction by another statement (NAMED_TAGS_JSON,
        one object per tag and permission): `get` answers them from here."""
        rows_by_name: dict[str, list[Any]] = {}
        for item in named_tags:
            rows_by_name.setdefault(item["name"], []).append(SimpleNamespace(**item))
        for name, rows in rows_by_name.items():
            if name not in self._records:
                self._records[name] = self._record_of(rows, with_gates=True)

    def _record_of(self, rows: Sequence[Any], *, with_gates: bool) -> TagRecord:
        """The tag of `rows` (its permission rows; one row of NULLs for none)."""
        if with_gates and self._on_gates is not None:
            self._on_gates(rows[0].id, _gates_of_row(rows[0]))
        perms: dict[tuple[str, str], set[str]] = {}
        for row in rows:
            if row.role is not None:
                perms.setdefault((row.role, row.kind), set()).add(row.principal)
        first = rows[0]
        return TagRecord(first.id, first.name, first.description, first.documentation,
                         {key: frozenset(names) for key, names in perms.items()})

    async def name_taken(self, name: str) -> bool:
        found = await self._conn.execute(select(func.count()).where(tags.c.name == name))
        return bool(found.scalar_one())

    async def create(self, name: str, description: str, documentation: str) -> int:
        self._records.clear()
        result = await self._conn.execute(
            tags.insert().values(name=name, description=description,
                                 documentation=documentation).returning(tags.c.id)
        )
        return int(result.scalar_one())

    async def update(self, tag_id: int, fields: dict[str, str]) -> None:
        self._records.clear()
        await self._conn.execute(update(tags).where(tags.c.id == tag_id).values(**fields))
        if "name" in fields and self._on_rename is not None:
            await self._on_rename(tag_id)

    async def add_permission(self, tag_id: int, role: str, kind: str, name: str) -> bool:
        self._records.clear()
        stmt = (
            upsert_insert(self._conn, tag_permissions)
            .values(tag_id=tag_id, role=role, kind=kind, name=name)
            .on_conflict_do_nothing()
            .returning(tag_permissions.c.tag_id)
        )
        return (await self._conn.execute(stmt)).first() is not None

    async def remove_permission(self, tag_id: int, role: str, kind: str, name: str) -> bool:
        self._records.clear()
        stmt = delete(tag_permissions).where(
            tag_permissions.c.tag_id == tag_id, tag_permissions.c.role == role,
            tag_permissions.c.kind == kind, tag_permissions.c.name == name,
        ).returning(tag_permissions.c.tag_id)
        return (await self._conn.execute(stmt)).first() is not None

    async def add_change(self, tag_id: int, action: str, user: str, message: str,
                         user_data: str | None) -> None:
        await self._conn.execute(tag_changes.insert().values(
            tag_id=tag_id, time=self._now(), action=action, user=user, message=message,
            user_data=user_data, auth_backend=self._auth_backend(),
        ))

    async def representation(self, tag_id: int) -> dict[str, Any]:
        return await tag_representation(self._conn, tag_id)


async def tag_representation(conn: AsyncConnection, tag_id: int) -> dict[str, Any]:
    row = (await conn.execute(select(tags).where(tags.c.id == tag_id))).one()
    lists: dict[tuple[str, str], list[str]] = {}
    for perm in await conn.execute(
        select(tag_permissions).where(tag_permissions.c.tag_id == tag_id)
        .order_by(tag_permissions.c.name)
    ):
        lists.setdefault((perm.role, perm.kind), []).append(perm.name)
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "documentation": row.documentation,
        "taggers": lists.get(("tagger", "user"), []),
        "untaggers": lists.get(("untagger", "user"), []),
        "tagger_groups": lists.get(("tagger", "group"), []),
        "untagger_groups": lists.get(("untagger", "group"), []),
    }
