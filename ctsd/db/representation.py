"""Build the v1 compose representation for a batch of composes in two queries, or
answer the one stored with the compose (`composes.rendered`, ctsd.db.rendering).

The statements are built once at import: constructing SQLAlchemy selects per request was
the largest Python cost of a list page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from ctsd import jsonio
from ctsd.db.tables import compose_parents, compose_tags, composes, tags

_RESPIN_OF = composes.alias("respin_of")
_PARENT, _CHILD, _RESPIN = (composes.alias(name) for name in ("parent", "child", "respin"))
_PKS: BindParameter[Any] = bindparam("pks", expanding=True)

# Everything a representation needs besides the relations; REPRESENTATION_ROWS can be
# narrowed with .where() and joined to a page of pks.
REPRESENTATION_ROWS = (
    select(composes.c.pk, composes.c.compose_info, composes.c.builder,
           composes.c.compose_url, composes.c.build_status, composes.c.removed_at,
           composes.c.removed_reason, _RESPIN_OF.c.compose_id.label("respin_of"),
           composes.c.rendered)
    .select_from(composes.outerjoin(_RESPIN_OF, _RESPIN_OF.c.pk == composes.c.respin_of_pk))
)
_COMPOSES_BY_PK = REPRESENTATION_ROWS.where(composes.c.pk.in_(_PKS))
_COMPOSE_BY_ID = REPRESENTATION_ROWS.where(composes.c.compose_id == bindparam("compose_id"))

# One round trip for tags, parents, children and respins of the whole batch.
_RELATIONS = union_all(
    select(compose_tags.c.compose_pk.label("pk"), literal("tags").label("kind"),
           tags.c.name.label("value"))
    .join(tags, tags.c.id == compose_tags.c.tag_id)
    .where(compose_tags.c.compose_pk.in_(_PKS)),
    select(compose_parents.c.child_pk, literal("parents"), _PARENT.c.compose_id)
    .join(_PARENT, _PARENT.c.pk == compose_parents.c.parent_pk)
    .where(compose_parents.c.child_pk.in_(_PKS)),
    select(compose_parents.c.parent_pk, literal("children"), _CHILD.c.compose_id)
    .join(_CHILD, _CHILD.c.pk == compose_parents.c.child_pk)
    .where(compose_parents.c.parent_pk.in_(_PKS)),
    select(_RESPIN.c.respin_of_pk, literal("respun_by"), _RESPIN.c.compose_id)
    .where(_RESPIN.c.respin_of_pk.in_(_PKS)),
)


async def compose_representations(conn: AsyncConnection,
                                  pks: list[int]) -> dict[int, dict[str, Any]]:
    """Map each pk to its representation (compose_info, builder, tags, lineage, url)."""
    if not pks:
        return {}
    return await _represent(conn, _COMPOSES_BY_PK, {"pks": pks})


async def representation_of(conn: AsyncConnection, compose_id: str) -> dict[str, Any] | None:
    """The representation of one compose by its id, built live (the stored answer is not
    read), or None; two queries in all."""
    found = await _represent(conn, _COMPOSE_BY_ID, {"compose_id": compose_id})
    return next(iter(found.values()), None)


async def answer_of(conn: AsyncConnection, compose_id: str) -> Any:
    """What GET /api/1/composes/{id} answers, or None for an unknown id: the stored
    answer (one query), else the representation built live (two)."""
    rows = (await conn.execute(_COMPOSE_BY_ID, {"compose_id": compose_id})).all()
    return (await answers_of_rows(conn, rows))[0] if rows else None


async def answers_of_rows(conn: AsyncConnection, rows: Sequence[Any]) -> list[Any]:
    """The answers of rows selected with REPRESENTATION_ROWS, in their order, for an HTTP
    answer to embed: a row's stored answer as it is (jsonio.StoredJson), the others
    built live with one relations query between them. Not for code that reads the
    items: that needs represent_rows."""
    live_rows = [row for row in rows if row.rendered is None]
    live = iter(await represent_rows(conn, live_rows) if live_rows else ())
    return [jsonio.StoredJson(row.rendered) if row.rendered is not None else next(live)
            for row in rows]


async def _represent(conn: AsyncConnection, statement: Any,
                     params: dict[str, Any]) -> dict[int, dict[str, Any]]:
    rows = (await conn.execute(statement, params)).all()
    return {row.pk: item for row, item in zip(rows, await represent_rows(conn, rows),
                                              strict=True)}


async def represent_rows(conn: AsyncConnection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Representations of rows selected with REPRESENTATION_COLUMNS, in their order.

    The list API selects a page with these columns directly, so only the relations
    (tags, lineage) cost a second query.
    """
    items = [
        _shape(jsonio.loads(row.compose_info), builder=row.builder,
               compose_url=row.compose_url, respin_of=row.respin_of,
               build_status=row.build_status, removed=row.removed_at is not None,
               removed_reason=row.removed_reason)
        for row in rows
    ]
    by_pk = {row.pk: item for row, item in zip(rows, items, strict=True)}
    if by_pk:
        for pk, kind, value in await _relations(conn, list(by_pk)):
            by_pk[pk][kind].append(value)
    return items


def current_relations(compose_pk: Any) -> list[Any]:
    """PostgreSQL: the compose's tags, parents, children and respins as four labelled
    arrays (NULL when empty), to add to a statement that changes the compose.

    Sorted with the C collation, the order Python's sorted() gives _relations' rows. A
    statement sees the data as it was when it started, so this is fresh only in a
    statement that starts after the compose is locked, never in the locking one.
    """
    def listed(value: Any, *where: Any, join: Any = None) -> Any:
        query = select(func.array_agg(aggregate_order_by(value, value.collate("C"))))
        if join is not None:
            query = query.select_from(join)
        return query.where(*where).scalar_subquery()

    parent, child, respin = (composes.alias(f"rel_{n}") for n in ("parent", "child", "respin"))
    return [
        listed(tags.c.name, compose_tags.c.compose_pk == compose_pk,
               join=compose_tags.join(tags, tags.c.id == compose_tags.c.tag_id))
        .label("tags"),
        listed(parent.c.compose_id, compose_parents.c.child_pk == compose_pk,
               join=compose_parents.join(parent, parent.c.pk == compose_parents.c.parent_pk))
        .label("parents"),
        listed(child.c.compose_id, compose_parents.c.parent_pk == compose_pk,
               join=compose_parents.join(child, child.c.pk == compose_parents.c.child_pk))
        .label("children"),
        listed(respin.c.compose_id, respin.c.respin_of_pk == compose_pk).label("respun_by"),
    ]


def represent_with_relations(row: Any, relations: Any) -> dict[str, Any]:
    """The representation from a REPRESENTATION_ROWS row and a row of current_relations."""
    item = _shape(jsonio.loads(row.compose_info), builder=row.builder,
                  compose_url=row.compose_url, respin_of=row.respin_of,
                  build_status=row.build_status, removed=row.removed_at is not None,
                  removed_reason=row.removed_reason)
    for kind in ("tags", "parents", "children", "respun_by"):
        item[kind] = list(getattr(relations, kind) or ())
    return item


def new_compose_representation(compose_info: dict[str, Any], builder: str,
                               compose_url: str | None) -> dict[str, Any]:
    """The representation of a compose just imported with no parents and no respin_of:
    known without asking the database."""
    return _shape(compose_info, builder=builder, compose_url=compose_url)


def _shape(compose_info: dict[str, Any], *, builder: str, compose_url: str | None,
           respin_of: str | None = None, build_status: str | None = None,
           removed: bool = False, removed_reason: str | None = None) -> dict[str, Any]:
    return {
        "compose_info": compose_info,
        "builder": builder,
        "tags": [],
        "parents": [],
        "children": [],
        "respin_of": respin_of,
        "respun_by": [],
        "compose_url": compose_url,
        "build_status": build_status,
        "removed": removed,
        "removed_reason": removed_reason,
    }


async def _relations(conn: AsyncConnection, pks: list[int]) -> list[tuple[int, str, str]]:
    rows = (await conn.execute(_RELATIONS, {"pks": pks})).all()
    return sorted((row[0], row[1], row[2]) for row in rows)
