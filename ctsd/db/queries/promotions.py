"""Workflow reads: promotion requests (of a compose, or filtered), a compose's recorded
locations, and the lifecycle fields of GET /api/1/composes/{id}/status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.promotion_store import PROMOTION_ROWS, promotion_record
from ctsd.db.queries.lookup import compose_pk
from ctsd.db.representation import compose_representations
from ctsd.db.tables import compose_locations, composes, promotion_requests
from handlers.errors import NotFound
from handlers.ports import PromotionRecord

_P = promotion_requests.c


async def promotions_of(conn: AsyncConnection, compose_id: str) -> list[PromotionRecord]:
    """Every promotion request of the compose, oldest first; NotFound if no compose."""
    pk = await compose_pk(conn, compose_id)
    rows = await conn.execute(PROMOTION_ROWS.where(_P.compose_pk == pk).order_by(_P.id))
    return [promotion_record(row) for row in rows]


async def promotion_page(conn: AsyncConnection, state: str | None, to_state: str | None,
                         offset: int, per_page: int) -> tuple[int, list[PromotionRecord]]:
    """The total of requests in `state` towards `to_state` (None: any) and one page."""
    conditions = []
    if state is not None:
        conditions.append(_P.state == state)
    if to_state is not None:
        conditions.append(_P.to_state == to_state)
    total = (await conn.execute(select(func.count()).select_from(promotion_requests)
                                .where(*conditions))).scalar_one()
    # Past the end: empty, without handing the database an OFFSET that may overflow.
    if offset >= total:
        return int(total), []
    rows = await conn.execute(PROMOTION_ROWS.where(*conditions).order_by(_P.id)
                              .limit(per_page).offset(offset))
    return int(total), [promotion_record(row) for row in rows]


async def locations_of(conn: AsyncConnection, compose_id: str) -> Sequence[Any]:
    """The compose's location rows (url, time, user), oldest first; NotFound if none."""
    pk = await compose_pk(conn, compose_id)
    rows = await conn.execute(select(compose_locations)
                              .where(compose_locations.c.compose_pk == pk)
                              .order_by(compose_locations.c.id))
    return rows.all()


@dataclass(frozen=True)
class ComposeStatus:
    """What the status view shows: the compose row, its tags and a pending request."""

    row: Any
    tags: list[str]
    pending: PromotionRecord | None


async def compose_status(conn: AsyncConnection, compose_id: str) -> ComposeStatus:
    """The compose's row, tag names and pending promotion; NotFound if no compose."""
    row = (await conn.execute(select(composes).where(
        composes.c.compose_id == compose_id))).first()
    if row is None:
        raise NotFound(f"Compose {compose_id} does not exist")
    tags = (await compose_representations(conn, [row.pk]))[row.pk]["tags"]
    pending = (await conn.execute(PROMOTION_ROWS.where(
        _P.compose_pk == row.pk, _P.state == "requested"))).first()
    return ComposeStatus(row, tags, promotion_record(pending) if pending else None)
