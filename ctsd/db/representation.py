"""Build the v1 compose representation for a batch of composes in two queries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from ctsd.db.tables import compose_parents, compose_tags, composes, tags


async def compose_representations(conn: AsyncConnection,
                                  pks: list[int]) -> dict[int, dict[str, Any]]:
    """Map each pk to its representation (compose_info, builder, tags, lineage, url)."""
    if not pks:
        return {}
    return await _represent(conn, composes.c.pk.in_(pks))


async def representation_of(conn: AsyncConnection, compose_id: str) -> dict[str, Any] | None:
    """The representation of one compose by its id, or None; two queries in all."""
    found = await _represent(conn, composes.c.compose_id == compose_id)
    return next(iter(found.values()), None)


async def _represent(conn: AsyncConnection, condition: Any) -> dict[int, dict[str, Any]]:
    respin_of = aliased(composes)
    rows = await conn.execute(
        select(composes.c.pk, composes.c.compose_info, composes.c.builder,
               composes.c.compose_url, respin_of.c.compose_id.label("respin_of"))
        .select_from(composes.outerjoin(respin_of, respin_of.c.pk == composes.c.respin_of_pk))
        .where(condition)
    )
    result: dict[int, dict[str, Any]] = {}
    for row in rows:
        result[row.pk] = {
            "compose_info": json.loads(row.compose_info),
            "builder": row.builder,
            "tags": [],
            "parents": [],
            "children": [],
            "respin_of": row.respin_of,
            "respun_by": [],
            "compose_url": row.compose_url,
        }
    if not result:
        return result
    for pk, kind, value in await _relations(conn, list(result)):
        result[pk][kind].append(value)
    return result


async def _relations(conn: AsyncConnection, pks: list[int]) -> list[tuple[int, str, str]]:
    # One round trip for tags, parents, children and respins of the whole batch.
    parent, child, respin = aliased(composes), aliased(composes), aliased(composes)
    tag_rows = (
        select(compose_tags.c.compose_pk.label("pk"), literal("tags").label("kind"),
               tags.c.name.label("value"))
        .join(tags, tags.c.id == compose_tags.c.tag_id)
        .where(compose_tags.c.compose_pk.in_(pks))
    )
    parent_rows = (
        select(compose_parents.c.child_pk, literal("parents"), parent.c.compose_id)
        .join(parent, parent.c.pk == compose_parents.c.parent_pk)
        .where(compose_parents.c.child_pk.in_(pks))
    )
    child_rows = (
        select(compose_parents.c.parent_pk, literal("children"), child.c.compose_id)
        .join(child, child.c.pk == compose_parents.c.child_pk)
        .where(compose_parents.c.parent_pk.in_(pks))
    )
    respun_rows = (
        select(respin.c.respin_of_pk, literal("respun_by"), respin.c.compose_id)
        .where(respin.c.respin_of_pk.in_(pks))
    )
    query = union_all(tag_rows, parent_rows, child_rows, respun_rows)
    rows = (await conn.execute(query)).all()
    return sorted((row[0], row[1], row[2]) for row in rows)
