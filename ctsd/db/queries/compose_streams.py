"""Read-side queries release engineering runs every day: the latest compose matching
filters, a compose's neighbours in its release stream, and its lineage.

"Newest" is by compose date, then respin, then import order (pk): a respin of the
same day is newer, and two streams that share a date and respin (say RHEL-10.0 and
RHEL-10.1 when filtering on release_short alone) are told apart by which came in last.
Migration 0007 adds the indexes these orders walk: (date, respin, pk) for any filter,
and (release_short, release_version, type, date, respin, pk) for one stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.representation import REPRESENTATION_ROWS, represent_rows
from ctsd.db.tables import compose_parents, composes

# A chain longer than this is not real lineage but a data fault (a cycle); stop there.
MAX_LINEAGE_DEPTH = 100

_c = composes.c
_NEWEST_FIRST = (_c.date.desc(), _c.respin.desc(), _c.pk.desc())
_OLDEST_FIRST = (_c.date.asc(), _c.respin.asc(), _c.pk.asc())


# Where a compose is: what neighbour_statements needs to know about it.
STREAM_POSITION = select(_c.pk, _c.date, _c.respin, _c.release_short, _c.release_version,
                         _c.type, _c.base_product_short, _c.base_product_version)


async def latest(conn: AsyncConnection, conditions: list[Any]) -> dict[str, Any] | None:
    """The representation of the newest compose meeting every condition, or None."""
    return await _first_represented(conn, latest_statement(conditions))


def latest_statement(conditions: list[Any]) -> Select[Any]:
    """The rows of `latest` (also what bench/query_scale_bench.py EXPLAINs)."""
    return REPRESENTATION_ROWS.where(*conditions).order_by(*_NEWEST_FIRST).limit(1)


@dataclass(frozen=True)
class Neighbours:
    previous: dict[str, Any] | None
    next: dict[str, Any] | None


async def neighbours(conn: AsyncConnection, compose_id: str,
                     conditions: list[Any]) -> Neighbours | None:
    """The composes just before and after this one in its release stream (None if it
    does not exist). The stream is the same release short and version, base product
    (or none) and compose type; `conditions` narrow which composes count."""
    origin = (await conn.execute(STREAM_POSITION.where(_c.compose_id == compose_id))).first()
    if origin is None:
        return None
    before, after = neighbour_statements(origin, conditions)
    return Neighbours(previous=await _first_represented(conn, before),
                      next=await _first_represented(conn, after))


def neighbour_statements(origin: Any, conditions: list[Any]) -> tuple[Select[Any], Select[Any]]:
    """The rows just before and just after `origin` (a row with pk, date, respin and the
    stream columns) in its stream."""
    stream = [*_stream_of(origin), *conditions]
    position, here = tuple_(_c.date, _c.respin, _c.pk), (origin.date, origin.respin, origin.pk)
    before = REPRESENTATION_ROWS.where(*stream, position < tuple_(*here))
    after = REPRESENTATION_ROWS.where(*stream, position > tuple_(*here))
    return (before.order_by(*_NEWEST_FIRST).limit(1), after.order_by(*_OLDEST_FIRST).limit(1))


def _stream_of(origin: Any) -> list[Any]:
    def same(column: Any, value: Any) -> Any:
        return column.is_(None) if value is None else column == value

    return [_c.release_short == origin.release_short,
            _c.release_version == origin.release_version,
            _c.type == origin.type,
            same(_c.base_product_short, origin.base_product_short),
            same(_c.base_product_version, origin.base_product_version)]


async def _first_represented(conn: AsyncConnection,
                             statement: Select[Any]) -> dict[str, Any] | None:
    rows = (await conn.execute(statement)).all()
    if not rows:
        return None
    return (await represent_rows(conn, rows))[0]


# The four directions of lineage, each an edge list (src -> dst) to follow.
_UP = select(compose_parents.c.child_pk.label("src"), compose_parents.c.parent_pk.label("dst"))
_DOWN = select(compose_parents.c.parent_pk.label("src"), compose_parents.c.child_pk.label("dst"))
_RESPIN_OF = (select(_c.pk.label("src"), _c.respin_of_pk.label("dst"))
              .where(_c.respin_of_pk.is_not(None)))
_RESPUN_BY = (select(_c.respin_of_pk.label("src"), _c.pk.label("dst"))
              .where(_c.respin_of_pk.is_not(None)))
LINEAGE_DIRECTIONS = {"ancestors": _UP, "descendants": _DOWN,
                      "respin_of": _RESPIN_OF, "respun_by": _RESPUN_BY}


async def lineage(conn: AsyncConnection, compose_id: str) -> dict[str, Any] | None:
    """Every compose reachable from this one in each direction, nearest first, with its
    distance (1 = direct parent/child/respin); None if the compose does not exist."""
    pk = (await conn.execute(select(_c.pk).where(_c.compose_id == compose_id))).scalar()
    if pk is None:
        return None
    answer: dict[str, Any] = {"compose_id": compose_id}
    for name, edges in LINEAGE_DIRECTIONS.items():
        rows = await conn.execute(_reachable(edges.subquery(name + "_edges"), pk))
        answer[name] = [{"compose_id": row.compose_id, "depth": row.depth} for row in rows]
    return answer


def _reachable(edges: Any, start: int) -> Select[Any]:
    # UNION (not UNION ALL) drops repeated (pk, depth) rows, and the depth cap ends a
    # cycle; each compose is then reported at its shortest distance.
    walk = (select(edges.c.dst.label("pk"), literal(1).label("depth"))
            .where(edges.c.src == start).cte("walk", recursive=True))
    step = (select(edges.c.dst, walk.c.depth + 1)
            .join(walk, edges.c.src == walk.c.pk)
            .where(walk.c.depth < MAX_LINEAGE_DEPTH))
    walk = walk.union(step)
    depth = func.min(walk.c.depth).label("depth")
    return (select(_c.compose_id, depth).join(walk, walk.c.pk == _c.pk)
            .where(_c.pk != start).group_by(_c.compose_id)
            .order_by(depth, _c.compose_id))
