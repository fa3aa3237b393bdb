"""SQL implementation of the promotion and removal-request ports (handlers.ports)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.engine import upsert_insert
from ctsd.db.tables import compose_tags, composes, promotion_requests, removal_requests, tags
from handlers.ports import PromotionRecord

_P = promotion_requests.c
PROMOTION_ROWS = (
    select(promotion_requests, composes.c.compose_id)
    .join(composes, composes.c.pk == _P.compose_pk)
)


def promotion_record(row: Any) -> PromotionRecord:
    return PromotionRecord(
        id=row.id, compose_pk=row.compose_pk, compose_id=row.compose_id,
        from_state=row.from_state, to_state=row.to_state, state=row.state,
        requested_by=row.requested_by, requested_at=row.requested_at, reason=row.reason,
        decided_by=row.decided_by, decided_at=row.decided_at,
        decision_reason=row.decision_reason,
    )


class SqlPromotionStore:
    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime]) -> None:
        self._conn = conn
        self._now = now

    async def add(self, compose_pk: int, from_state: str, to_state: str, *,
                  requested_by: str, reason: str | None, user_data: str | None) -> int:
        result = await self._conn.execute(promotion_requests.insert().values(
            compose_pk=compose_pk, from_state=from_state, to_state=to_state,
            state="requested", requested_by=requested_by, requested_at=self._now(),
            reason=reason, user_data=user_data,
        ).returning(_P.id))
        return int(result.scalar_one())

    async def get(self, request_id: int) -> PromotionRecord | None:
        row = (await self._conn.execute(PROMOTION_ROWS.where(_P.id == request_id))).first()
        return promotion_record(row) if row is not None else None

    async def pending_of(self, compose_pk: int) -> PromotionRecord | None:
        row = (await self._conn.execute(PROMOTION_ROWS.where(
            _P.compose_pk == compose_pk, _P.state == "requested"))).first()
        return promotion_record(row) if row is not None else None

    async def decide(self, request_id: int, state: str, decided_by: str,
                     reason: str | None) -> None:
        await self._conn.execute(update(promotion_requests).where(_P.id == request_id).values(
            state=state, decided_by=decided_by, decided_at=self._now(),
            decision_reason=reason))

    async def claim_stale(self, cutoff: datetime, limit: int) -> list[PromotionRecord]:
        # One UPDATE both decides "due" and claims: on PostgreSQL a concurrent daemon's
        # UPDATE waits on the row lock, then re-checks the WHERE against the committed
        # last_reminded_at and skips the row. SQLite has one writer at a time.
        due = (select(_P.id).where(
            _P.state == "requested",
            func.coalesce(_P.last_reminded_at, _P.requested_at) < cutoff,
        ).order_by(_P.id).limit(limit).scalar_subquery())
        claimed = await self._conn.execute(
            update(promotion_requests)
            .where(_P.id.in_(due), _P.state == "requested",
                   func.coalesce(_P.last_reminded_at, _P.requested_at) < cutoff)
            .values(last_reminded_at=self._now())
            .returning(_P.id)
        )
        ids = sorted(row.id for row in claimed)
        if not ids:
            return []
        rows = await self._conn.execute(PROMOTION_ROWS.where(_P.id.in_(ids)).order_by(_P.id))
        return [promotion_record(row) for row in rows]


class SqlRemovalRequestStore:
    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime]) -> None:
        self._conn = conn
        self._now = now

    async def candidates(self, cutoff: datetime, compose_type: str | None,
                         release_short: str | None, promoted_tags: list[str],
                         limit: int) -> list[tuple[int, str]]:
        if limit <= 0:
            return []
        promoted = exists().where(
            compose_tags.c.compose_pk == composes.c.pk,
            compose_tags.c.tag_id.in_(select(tags.c.id).where(tags.c.name.in_(promoted_tags))),
        )
        asked = exists().where(removal_requests.c.compose_pk == composes.c.pk)
        conditions = [composes.c.created_at < cutoff, composes.c.removed_at.is_(None),
                      ~asked, ~promoted]
        if compose_type is not None:
            conditions.append(composes.c.type == compose_type)
        if release_short is not None:
            conditions.append(composes.c.release_short == release_short)
        rows = await self._conn.execute(
            select(composes.c.pk, composes.c.compose_id).where(and_(*conditions))
            .order_by(composes.c.pk).limit(limit))
        return [(row.pk, row.compose_id) for row in rows]

    async def claim(self, compose_pk: int, policy: str) -> bool:
        # ON CONFLICT DO NOTHING: a daemon that raced us to this compose wins, we skip it.
        stmt = (upsert_insert(self._conn, removal_requests)
                .values(compose_pk=compose_pk, requested_at=self._now(), policy=policy)
                .on_conflict_do_nothing().returning(removal_requests.c.compose_pk))
        return (await self._conn.execute(stmt)).first() is not None
