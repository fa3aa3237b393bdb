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


@dataclass(frozen=True)
class RespinGrant:
    """What an import gets from `ComposeStore.allocate_respin`: the stream's next respin
    (`requested` if above the last one handed out), or, with `respin` None, the answer
    an identical earlier import of the same caller committed but never delivered
    (ctsd/db/kept_answers.py): that import must then not happen a second time."""

    respin: int | None
    kept_answer: Any = None


class ComposeStore(Protocol):
    async def allocate_respin(self, stream: str, requested: int) -> RespinGrant: ...
    async def pks_of(self, compose_ids: list[str]) -> dict[str, int]: ...
    # more_rows=False: the import writes nothing else that refers to the new compose
    # (parents, variant arches, a location) before commit, so its row may wait for it.
    async def insert(self, columns: dict[str, Any], compose_info: dict[str, Any],
                     builder: str, compose_url: str | None, respin_of_pk: int | None, *,
                     more_rows: bool = True) -> int: ...
    async def add_parents(self, child_pk: int, parent_pks: list[int]) -> None: ...
    async def lock(self, compose_id: str) -> ComposeRef | None: ...
    async def add_tag(self, compose_pk: int, tag_id: int) -> bool: ...
    async def remove_tag(self, compose_pk: int, tag_id: int) -> bool: ...
    async def set_url(self, compose_pk: int, url: str) -> None: ...
    # These two answer False when nothing changed (same status; already removed).
    async def set_build_status(self, compose_pk: int, status: str) -> bool: ...
    async def mark_removed(self, compose_pk: int, reason: str | None) -> bool: ...
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


@dataclass(frozen=True)
class PromotionRecord:
    """One promotion request (`promotion_requests` row) and the compose it is about."""

    id: int
    compose_pk: int
    compose_id: str
    from_state: str
    to_state: str
    state: str  # requested | performed | rejected | withdrawn
    requested_by: str
    requested_at: datetime
    reason: str | None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None


class PromotionStore(Protocol):
    async def add(self, compose_pk: int, from_state: str, to_state: str, *,
                  requested_by: str, reason: str | None, user_data: str | None) -> int: ...
    async def get(self, request_id: int) -> PromotionRecord | None: ...
    async def pending_of(self, compose_pk: int) -> PromotionRecord | None: ...
    async def decide(self, request_id: int, state: str, decided_by: str,
                     reason: str | None) -> None: ...
    # Moves last_reminded_at of requests pending since before `cutoff` to now and answers
    # them: a request claimed here is not claimed again (by any daemon) until `cutoff`
    # passes it anew.
    async def claim_stale(self, cutoff: datetime, limit: int) -> list[PromotionRecord]: ...


class GateStore(Protocol):
    async def of(self, tag_id: int) -> dict[str, list[str]]: ...  # kind -> tag names
    async def requires_edges(self) -> list[tuple[int, int]]: ...  # (tag, required tag)
    async def replace(self, tag_id: int, requires: list[int], excludes: list[int]) -> None: ...


class LocationStore(Protocol):
    async def add(self, compose_pk: int, url: str, user: str) -> None: ...


class RemovalRequestStore(Protocol):
    # Composes imported before `cutoff`, not removed, never asked for, not tagged with
    # any of `promoted_tags`, matching type/release when given: (pk, compose_id).
    async def candidates(self, cutoff: datetime, compose_type: str | None,
                         release_short: str | None, promoted_tags: list[str],
                         limit: int) -> list[tuple[int, str]]: ...
    async def claim(self, compose_pk: int, policy: str) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction: state change, its history row and its outbox row commit together."""

    # Read-only members: an implementation may hold any store that satisfies the port.
    @property
    def composes(self) -> ComposeStore: ...
    @property
    def tags(self) -> TagStore: ...
    @property
    def promotions(self) -> PromotionStore: ...
    @property
    def gates(self) -> GateStore: ...
    @property
    def locations(self) -> LocationStore: ...
    @property
    def removal_requests(self) -> RemovalRequestStore: ...

    def now(self) -> datetime: ...
    async def emit(self, event: str, body: dict[str, Any], ordering_key: str | None) -> None: ...
