"""Tag reads: the tag list, a tag and its history, its gates, and which tags a user may
tag or untag with (GET /api/1/tags/..., /api/1/userinfo)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.gate_store import gates_of
from ctsd.db.queries.compose_lists import count
from ctsd.db.tables import tag_changes, tag_permissions, tags
from ctsd.db.tag_store import tag_representation
from handlers.identity import Actor

__all__ = ["gates_of", "tag_changes_of", "tag_names_for", "tag_page", "tag_representation"]

# Which list of the tag representation each (role, kind) permission row belongs to.
_PERMISSION_LISTS = {
    ("tagger", "user"): "taggers",
    ("untagger", "user"): "untaggers",
    ("tagger", "group"): "tagger_groups",
    ("untagger", "group"): "untagger_groups",
}


async def tag_page(conn: AsyncConnection, conditions: list[Any], order: list[Any],
                   offset: int, per_page: int) -> tuple[int, list[dict[str, Any]]]:
    """The total of matching tags and the representations of one page of them."""
    total = await count(conn, select(tags.c.id).where(*conditions))
    # A page past the end is empty without asking the database (and without handing it
    # an OFFSET that may overflow its integer type).
    if offset >= total:
        return total, []
    rows = await conn.execute(select(tags).where(*conditions).order_by(*order)
                              .limit(per_page).offset(offset))
    return total, await _tag_representations(conn, list(rows))


async def _tag_representations(conn: AsyncConnection, rows: list[Any]) -> list[dict[str, Any]]:
    """The tag representation of GET /api/1/tags/{id} for a page of tags, in one query."""
    items = {row.id: _tag_item(row) for row in rows}
    if not items:
        return []
    permissions = await conn.execute(
        select(tag_permissions).where(tag_permissions.c.tag_id.in_(list(items)))
        .order_by(tag_permissions.c.name)
    )
    for perm in permissions:
        listed = _PERMISSION_LISTS.get((perm.role, perm.kind))
        if listed is not None:
            items[perm.tag_id][listed].append(perm.name)
    return list(items.values())


def _tag_item(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "documentation": row.documentation,
        **{listed: [] for listed in _PERMISSION_LISTS.values()},
    }


async def tag_changes_of(conn: AsyncConnection, tag_id: int) -> Sequence[Any]:
    """The tag's history rows (time, action, user, message, user_data, auth_backend),
    oldest first."""
    rows = await conn.execute(
        select(tag_changes).where(tag_changes.c.tag_id == tag_id).order_by(tag_changes.c.id))
    return rows.all()


async def tag_names_for(conn: AsyncConnection, actor: Actor, role: str, *,
                        every_tag: bool) -> list[str]:
    """Sorted names of the tags `actor` holds `role` ("tagger"/"untagger") on.

    Admins may tag and untag with every tag, so `every_tag` lists them all.
    """
    if every_tag:
        return list((await conn.execute(select(tags.c.name).order_by(tags.c.name))).scalars())
    perm = tag_permissions.c
    holder = and_(perm.kind == "user", perm.name == actor.username)
    if actor.groups:
        holder = or_(holder, and_(perm.kind == "group", perm.name.in_(sorted(actor.groups))))
    query = (
        select(tags.c.name).distinct()
        .join(tag_permissions, perm.tag_id == tags.c.id)
        .where(perm.role == role, holder)
        .order_by(tags.c.name)
    )
    return list((await conn.execute(query)).scalars())
