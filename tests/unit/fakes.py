"""An in-memory unit of work for handler tests: the storage ports of `handlers.ports`
with no I/O.

`FakeDatabase` holds what the SQL tables would hold. Each command gets its own
`FakeUnitOfWork`, which works on a private copy of the database and writes it back only
on `commit()`: a handler that raises leaves the database exactly as it was, as the SQL
transaction's rollback does. The fake enforces the uniqueness, foreign keys and VARCHAR
lengths of `ctsd.db.tables` (`FakeIntegrityError`), so a handler that would hit a
constraint on PostgreSQL (a 500 for the caller) fails here too instead of "working".
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Table

from ctsd.db.tables import compose_changes, composes, tag_changes, tag_permissions, tags
from handlers import HANDLERS
from handlers.identity import Actor, Roles
from handlers.ports import ComposeRef, RespinGrant, TagRecord
from tests.unit.fake_contents import FakeContentsStore
from tests.unit.fake_workflow import (
    FakeGateStore,
    FakeLocationStore,
    FakePromotionStore,
    FakeRemovalRequestStore,
)

FIXED_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeIntegrityError(Exception):
    """What the database would refuse: a duplicate key or a dangling reference."""


@dataclass(frozen=True)
class Change:
    """One history row (compose_changes or tag_changes)."""

    subject: int  # compose pk or tag id
    time: datetime
    action: str
    user: str
    message: str
    user_data: str | None


@dataclass(frozen=True)
class Event:
    """One outbox row."""

    event: str
    body: dict[str, Any]
    ordering_key: str | None


@dataclass
class StoredCompose:
    pk: int
    columns: dict[str, Any]
    compose_info: dict[str, Any]
    builder: str
    compose_url: str | None
    respin_of_pk: int | None
    created_at: datetime
    build_status: str | None = None
    removed_at: datetime | None = None
    removed_reason: str | None = None

    @property
    def compose_id(self) -> str:
        return self.columns["compose_id"]


@dataclass
class StoredTag:
    id: int
    name: str
    description: str
    documentation: str


@dataclass
class FakeDatabase:
    """The committed state: one attribute per table."""

    composes: dict[int, StoredCompose] = field(default_factory=dict)
    respin_counters: dict[str, int] = field(default_factory=dict)
    compose_parents: set[tuple[int, int]] = field(default_factory=set)  # (child, parent)
    compose_tags: set[tuple[int, int]] = field(default_factory=set)  # (compose pk, tag id)
    compose_changes: list[Change] = field(default_factory=list)
    tags: dict[int, StoredTag] = field(default_factory=dict)
    tag_permissions: set[tuple[int, str, str, str]] = field(default_factory=set)
    tag_changes: list[Change] = field(default_factory=list)
    outbox: list[Event] = field(default_factory=list)
    # Workflow tables (tests/unit/fake_workflow.py).
    promotion_requests: dict[int, Any] = field(default_factory=dict)
    tag_gates: set[tuple[int, str, int]] = field(default_factory=set)  # (tag, kind, other)
    compose_locations: list[Any] = field(default_factory=list)
    removal_requests: dict[int, tuple[datetime, str]] = field(default_factory=dict)
    now: datetime = FIXED_NOW

    # Read helpers for assertions.
    def compose_pk(self, compose_id: str) -> int:
        return next(c.pk for c in self.composes.values() if c.compose_id == compose_id)

    def compose_ids(self) -> list[str]:
        return [c.compose_id for c in sorted(self.composes.values(), key=lambda c: c.pk)]

    def changes_of(self, compose_id: str) -> list[Change]:
        pk = self.compose_pk(compose_id)
        return [c for c in self.compose_changes if c.subject == pk]

    def tag_id(self, name: str) -> int:
        return next(t.id for t in self.tags.values() if t.name == name)

    def tag_history(self, name: str) -> list[Change]:
        tag_id = self.tag_id(name)
        return [c for c in self.tag_changes if c.subject == tag_id]


def _check_fits(table: Table, values: dict[str, Any]) -> None:
    # PostgreSQL refuses a string longer than its VARCHAR column (a 500 for the caller),
    # so the fake refuses it too, with the limits of the real schema.
    for name, value in values.items():
        if name not in table.c:
            raise FakeIntegrityError(f"{table.name} has no column {name}")
        column_type = table.c[name].type
        if isinstance(column_type, String) and column_type.length and isinstance(value, str) \
                and len(value) > column_type.length:
            raise FakeIntegrityError(
                f"value too long for {table.name}.{name} ({len(value)} > {column_type.length})"
            )


def _json_copy(value: Any) -> Any:
    # Stored JSON goes through a serialiser on SQL too: this catches values that are not
    # JSON (datetimes, sets) and later mutation of what the handler handed over.
    return json.loads(json.dumps(value))


class FakeComposeStore:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def next_respin(self, stream: str, requested: int) -> int:
        # Same rule as the SQL upsert: the requested respin if it is above the last one
        # handed out for the stream, otherwise the next one after it.
        last = self._db.respin_counters.get(stream)
        respin = requested if last is None or requested > last else last + 1
        self._db.respin_counters[stream] = respin
        return respin

    async def allocate_respin(self, stream: str, requested: int) -> RespinGrant:
        # The fake keeps no answers for lost clients (that is ctsd.db.kept_answers).
        return RespinGrant(await self.next_respin(stream, requested))

    async def pks_of(self, compose_ids: list[str]) -> dict[str, int]:
        wanted = set(compose_ids)
        return {c.compose_id: c.pk for c in self._db.composes.values()
                if c.compose_id in wanted}

    async def insert(self, columns: dict[str, Any], compose_info: dict[str, Any],
                     builder: str, compose_url: str | None, respin_of_pk: int | None, *,
                     more_rows: bool = True) -> int:
        # The fake has no commit to wait for: more_rows changes nothing here.
        _check_fits(composes, {**columns, "builder": builder})
        if any(c.compose_id == columns["compose_id"] for c in self._db.composes.values()):
            raise FakeIntegrityError(f"duplicate compose_id {columns['compose_id']}")
        if respin_of_pk is not None and respin_of_pk not in self._db.composes:
            raise FakeIntegrityError(f"respin_of_pk {respin_of_pk} does not exist")
        pk = max(self._db.composes, default=0) + 1
        self._db.composes[pk] = StoredCompose(
            pk, dict(columns), _json_copy(compose_info), builder, compose_url,
            respin_of_pk, self._db.now,
        )
        return pk

    async def add_parents(self, child_pk: int, parent_pks: list[int]) -> None:
        for parent_pk in parent_pks:
            self._require_compose(child_pk)
            self._require_compose(parent_pk)
            if (child_pk, parent_pk) in self._db.compose_parents:
                raise FakeIntegrityError(f"duplicate parent {parent_pk} of {child_pk}")
            self._db.compose_parents.add((child_pk, parent_pk))

    async def lock(self, compose_id: str) -> ComposeRef | None:
        for compose in self._db.composes.values():
            if compose.compose_id == compose_id:
                return ComposeRef(compose.pk, compose.compose_id, compose.compose_url)
        return None

    async def add_tag(self, compose_pk: int, tag_id: int) -> bool:
        self._require_compose(compose_pk)
        if tag_id not in self._db.tags:
            raise FakeIntegrityError(f"tag {tag_id} does not exist")
        if (compose_pk, tag_id) in self._db.compose_tags:
            return False
        self._db.compose_tags.add((compose_pk, tag_id))
        return True

    async def remove_tag(self, compose_pk: int, tag_id: int) -> bool:
        if (compose_pk, tag_id) not in self._db.compose_tags:
            return False
        self._db.compose_tags.discard((compose_pk, tag_id))
        return True

    async def set_url(self, compose_pk: int, url: str) -> None:
        self._db.composes[compose_pk].compose_url = url

    async def set_build_status(self, compose_pk: int, status: str) -> bool:
        _check_fits(composes, {"build_status": status})
        compose = self._db.composes[compose_pk]
        if compose.build_status == status:
            return False
        compose.build_status = status
        return True

    async def mark_removed(self, compose_pk: int, reason: str | None) -> bool:
        compose = self._db.composes[compose_pk]
        if compose.removed_at is not None:
            return False
        compose.removed_at, compose.removed_reason = self._db.now, reason
        return True

    async def add_change(self, compose_pk: int, action: str, user: str, message: str,
                         user_data: str | None) -> None:
        _check_fits(compose_changes, {"action": action, "user": user})
        self._require_compose(compose_pk)
        self._db.compose_changes.append(
            Change(compose_pk, self._db.now, action, user, message, user_data)
        )

    async def representation(self, compose_pk: int) -> dict[str, Any]:
        db = self._db
        compose = db.composes[compose_pk]

        def ids(pks: list[int]) -> list[str]:
            return sorted(db.composes[pk].compose_id for pk in pks)

        return {
            "compose_info": _json_copy(compose.compose_info),
            "builder": compose.builder,
            "tags": sorted(db.tags[t].name for c, t in db.compose_tags if c == compose_pk),
            "parents": ids([p for c, p in db.compose_parents if c == compose_pk]),
            "children": ids([c for c, p in db.compose_parents if p == compose_pk]),
            "respin_of": (db.composes[compose.respin_of_pk].compose_id
                          if compose.respin_of_pk is not None else None),
            "respun_by": ids([c.pk for c in db.composes.values()
                              if c.respin_of_pk == compose_pk]),
            "compose_url": compose.compose_url,
            "build_status": compose.build_status,
            "removed": compose.removed_at is not None,
            "removed_reason": compose.removed_reason,
        }

    def _require_compose(self, pk: int) -> None:
        if pk not in self._db.composes:
            raise FakeIntegrityError(f"compose {pk} does not exist")


class FakeTagStore:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def get(self, id_or_name: str) -> TagRecord | None:
        key = str(id_or_name)
        tag = next((t for t in self._db.tags.values() if t.name == key), None)
        if tag is None and key.isdigit():
            tag = self._db.tags.get(int(key))
        if tag is None:
            return None
        perms: dict[tuple[str, str], set[str]] = {}
        for tag_id, role, kind, name in self._db.tag_permissions:
            if tag_id == tag.id:
                perms.setdefault((role, kind), set()).add(name)
        return TagRecord(tag.id, tag.name, tag.description, tag.documentation,
                         {key: frozenset(names) for key, names in perms.items()})

    async def name_taken(self, name: str) -> bool:
        return any(t.name == name for t in self._db.tags.values())

    async def create(self, name: str, description: str, documentation: str) -> int:
        _check_fits(tags, {"name": name})
        if await self.name_taken(name):
            raise FakeIntegrityError(f"duplicate tag name {name}")
        tag_id = max(self._db.tags, default=0) + 1
        self._db.tags[tag_id] = StoredTag(tag_id, name, description, documentation)
        return tag_id

    async def update(self, tag_id: int, fields: dict[str, str]) -> None:
        if set(fields) - {"name", "description", "documentation"}:
            raise FakeIntegrityError(f"tags.update may not change {sorted(fields)}")
        _check_fits(tags, fields)
        if "name" in fields and any(t.name == fields["name"] and t.id != tag_id
                                    for t in self._db.tags.values()):
            raise FakeIntegrityError(f"duplicate tag name {fields['name']}")
        tag = self._db.tags[tag_id]
        for key, value in fields.items():
            setattr(tag, key, value)

    async def add_permission(self, tag_id: int, role: str, kind: str, name: str) -> bool:
        if tag_id not in self._db.tags:
            raise FakeIntegrityError(f"tag {tag_id} does not exist")
        _check_fits(tag_permissions, {"role": role, "kind": kind, "name": name})
        row = (tag_id, role, kind, name)
        if row in self._db.tag_permissions:
            return False
        self._db.tag_permissions.add(row)
        return True

    async def remove_permission(self, tag_id: int, role: str, kind: str, name: str) -> bool:
        row = (tag_id, role, kind, name)
        if row not in self._db.tag_permissions:
            return False
        self._db.tag_permissions.discard(row)
        return True

    async def add_change(self, tag_id: int, action: str, user: str, message: str,
                         user_data: str | None) -> None:
        _check_fits(tag_changes, {"action": action, "user": user})
        if tag_id not in self._db.tags:
            raise FakeIntegrityError(f"tag {tag_id} does not exist")
        self._db.tag_changes.append(Change(tag_id, self._db.now, action, user, message,
                                           user_data))

    async def representation(self, tag_id: int) -> dict[str, Any]:
        tag = self._db.tags[tag_id]

        def names(role: str, kind: str) -> list[str]:
            return sorted(n for t, r, k, n in self._db.tag_permissions
                          if (t, r, k) == (tag_id, role, kind))

        return {
            "id": tag.id,
            "name": tag.name,
            "description": tag.description,
            "documentation": tag.documentation,
            "taggers": names("tagger", "user"),
            "untaggers": names("untagger", "user"),
            "tagger_groups": names("tagger", "group"),
            "untagger_groups": names("untagger", "group"),
        }


class FakeUnitOfWork:
    """One transaction over a FakeDatabase; implements `handlers.ports.UnitOfWork`."""

    def __init__(self, db: FakeDatabase) -> None:
        self._committed_db = db
        self._db = copy.deepcopy(db)
        self.composes = FakeComposeStore(self._db)
        self.tags = FakeTagStore(self._db)
        self.promotions = FakePromotionStore(self._db)
        self.gates = FakeGateStore(self._db)
        self.locations = FakeLocationStore(self._db)
        self.removal_requests = FakeRemovalRequestStore(self._db)
        self.contents = FakeContentsStore(self._db)
        self.committed = False

    @property
    def events(self) -> list[Event]:
        """The events emitted so far in this unit of work (committed or not)."""
        return self._db.outbox

    def now(self) -> datetime:
        return self._db.now

    async def emit(self, event: str, body: dict[str, Any], ordering_key: str | None) -> None:
        self._db.outbox.append(Event(event, _json_copy(body), ordering_key))

    def commit(self) -> None:
        assert not self.committed, "a unit of work commits once"
        self._committed_db.__dict__.update(self._db.__dict__)
        self.committed = True


async def execute(db: FakeDatabase, command: Any, actor: Actor, roles: Roles) -> Any:
    """Run a command as the command bus does: its handler in one unit of work, then commit.

    A handler that raises commits nothing.
    """
    uow = FakeUnitOfWork(db)
    result = await HANDLERS[type(command)](command, uow, actor, roles)
    uow.commit()
    return result
