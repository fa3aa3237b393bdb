"""In-memory workflow stores (promotions, gates, locations, removal requests) for the
fake unit of work of tests/unit/fakes.py. They keep their rows in the FakeDatabase, so
they commit and roll back with everything else."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from ctsd.db.tables import compose_locations, promotion_requests
from handlers.ports import PromotionRecord

if TYPE_CHECKING:
    from tests.unit.fakes import FakeDatabase


class FakeIntegrity(Exception):
    pass


@dataclass(frozen=True)
class StoredPromotion:
    record: PromotionRecord
    user_data: str | None
    last_reminded_at: datetime | None = None


@dataclass(frozen=True)
class StoredLocation:
    compose_pk: int
    url: str
    time: datetime
    user: str


def _fits(table_column_lengths: dict[str, int | None], values: dict[str, str]) -> None:
    for name, value in values.items():
        length = table_column_lengths.get(name)
        if length is not None and len(value) > length:
            raise FakeIntegrity(f"value too long for {name}")


_PROMOTION_LENGTHS = {c.name: getattr(c.type, "length", None) for c in promotion_requests.c}
_LOCATION_LENGTHS = {c.name: getattr(c.type, "length", None) for c in compose_locations.c}


class FakePromotionStore:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def add(self, compose_pk: int, from_state: str, to_state: str, *,
                  requested_by: str, reason: str | None, user_data: str | None) -> int:
        _fits(_PROMOTION_LENGTHS, {"from_state": from_state, "to_state": to_state,
                                   "requested_by": requested_by})
        compose = self._db.composes.get(compose_pk)
        if compose is None:
            raise FakeIntegrity(f"compose {compose_pk} does not exist")
        request_id = max(self._db.promotion_requests, default=0) + 1
        record = PromotionRecord(request_id, compose_pk, compose.compose_id, from_state,
                                 to_state, "requested", requested_by, self._db.now, reason)
        self._db.promotion_requests[request_id] = StoredPromotion(record, user_data)
        return request_id

    async def get(self, request_id: int) -> PromotionRecord | None:
        stored = self._db.promotion_requests.get(request_id)
        return stored.record if stored is not None else None

    async def pending_of(self, compose_pk: int) -> PromotionRecord | None:
        return next((s.record for s in self._db.promotion_requests.values()
                     if s.record.compose_pk == compose_pk and s.record.state == "requested"),
                    None)

    async def decide(self, request_id: int, state: str, decided_by: str,
                     reason: str | None) -> None:
        stored = self._db.promotion_requests[request_id]
        record = replace(stored.record, state=state, decided_by=decided_by,
                         decided_at=self._db.now, decision_reason=reason)
        self._db.promotion_requests[request_id] = replace(stored, record=record)

    async def claim_stale(self, cutoff: datetime, limit: int) -> list[PromotionRecord]:
        claimed = []
        for request_id in sorted(self._db.promotion_requests):
            stored = self._db.promotion_requests[request_id]
            since = stored.last_reminded_at or stored.record.requested_at
            if stored.record.state == "requested" and since < cutoff and len(claimed) < limit:
                self._db.promotion_requests[request_id] = replace(
                    stored, last_reminded_at=self._db.now)
                claimed.append(stored.record)
        return claimed


class FakeGateStore:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def of(self, tag_id: int) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {"requires": [], "excludes": []}
        for gated, kind, other in self._db.tag_gates:
            if gated == tag_id:
                found[kind].append(self._db.tags[other].name)
        return {kind: sorted(names) for kind, names in found.items()}

    async def requires_edges(self) -> list[tuple[int, int]]:
        return [(a, b) for a, kind, b in self._db.tag_gates if kind == "requires"]

    async def replace(self, tag_id: int, requires: list[int], excludes: list[int]) -> None:
        for other in [tag_id, *requires, *excludes]:
            if other not in self._db.tags:
                raise FakeIntegrity(f"tag {other} does not exist")
        self._db.tag_gates = {gate for gate in self._db.tag_gates if gate[0] != tag_id}
        self._db.tag_gates |= {(tag_id, "requires", other) for other in requires}
        self._db.tag_gates |= {(tag_id, "excludes", other) for other in excludes}


class FakeLocationStore:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def add(self, compose_pk: int, url: str, user: str) -> None:
        _fits(_LOCATION_LENGTHS, {"user": user})
        if compose_pk not in self._db.composes:
            raise FakeIntegrity(f"compose {compose_pk} does not exist")
        self._db.compose_locations.append(StoredLocation(compose_pk, url, self._db.now, user))


class FakeRemovalRequestStore:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def candidates(self, cutoff: datetime, compose_type: str | None,
                         release_short: str | None, promoted_tags: list[str],
                         limit: int) -> list[tuple[int, str]]:
        promoted_ids = {t.id for t in self._db.tags.values() if t.name in promoted_tags}
        found = []
        for pk in sorted(self._db.composes):
            compose = self._db.composes[pk]
            if (compose.created_at >= cutoff or compose.removed_at is not None
                    or pk in self._db.removal_requests
                    or any((pk, tag_id) in self._db.compose_tags for tag_id in promoted_ids)
                    or compose_type not in (None, compose.columns.get("type"))
                    or release_short not in (None, compose.columns.get("release_short"))):
                continue
            found.append((pk, compose.compose_id))
        return found[:max(limit, 0)]

    async def claim(self, compose_pk: int, policy: str) -> bool:
        if compose_pk in self._db.removal_requests:
            return False
        self._db.removal_requests[compose_pk] = (self._db.now, policy)
        return True
