"""What handlers need from storage. `ctsd.db` implements it on SQL; tests may fake it.

Every method runs inside the unit of work's one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ComposeRef:
    """A compose locked for change: its storage key, id and current location."""

    pk: int
    compose_id: str
    compose_url: str | None


@dataclass(frozen=True)
class TagRecord:
    id: int
    name: str
    description: str
    documentation: str
    # {("tagger"|"untagger", "user"|"group"): {names}}
    permissions: dict[tuple[str, str], frozenset[str]]

    def principals(self, role: str, kind: str) -> frozenset[str]:
        return self.permissions.get((role, kind), frozenset())


class ComposeStore(Protocol):
    async def next_respin(self, stream: str, requested: int) -> int: ...
    async def pks_of(self, compose_ids: list[str]) -> dict[str, int]: ...
    async def insert(self, columns: dict[str, Any], compose_info: dict[str, Any],
                     builder: str, compose_url: str | None, respin_of_pk: int | None) -> int: ...
    async def add_parents(self, child_pk: int, parent_pks: list[int]) -> None: ...
    async def lock(self, compose_id: str) -> ComposeRef | None: ...
    async def add_tag(self, compose_pk: int, tag_id: int) -> bool: ...
    async def remove_tag(self, compose_pk: int, tag_id: int) -> bool: ...
    async def set_url(self, compose_pk: int, url: str) -> None: ...
    async def add_change(self, compose_pk: int, action: str, user: str, message: str,
                         user_data: str | None) -> None: ...
    async def representation(self, compose_pk: int) -> dict[str, Any]: ...


class TagStore(Protocol):
    async def get(self, id_or_name: str) -> TagRecord | None: ...
    async def name_taken(self, name: str) -> bool: ...
    async def create(self, name: str, description: str, documentation: str) -> int: ...
    async def update(self, tag_id: int, fields: dict[str, str]) -> None: ...
    async def add_permission(self, tag_id: int, role: str, kind: str, name: str) -> bool: ...
    async def remove_permission(self, tag_id: int, role: str, kind: str, name: str) -> bool: ...
    async def add_change(self, tag_id: int, action: str, user: str, message: str,
                         user_data: str | None) -> None: ...
    async def representation(self, tag_id: int) -> dict[str, Any]: ...


class UnitOfWork(Protocol):
    """One transaction: state change, its history row and its outbox row commit together."""

    composes: ComposeStore
    tags: TagStore

    def now(self) -> datetime: ...
    async def emit(self, event: str, body: dict[str, Any], ordering_key: str | None) -> None: ...
