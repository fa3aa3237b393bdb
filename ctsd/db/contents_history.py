"""A package's history: each version of an rpm name with the first and the last
compose (among those matching the list filters) that carried it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.contents_diff import sort_by_evr
from ctsd.db.contents_filters import composes_containing
from ctsd.db.contents_tables import rpms
from ctsd.db.tables import composes
from handlers.evr import format_evr

MAX_VERSIONS = 500


async def package_history(conn: AsyncConnection, name: str,
                          conditions: list[Any]) -> list[dict[str, Any]]:
    """Versions of `name` (any arch), oldest first, each with first/last compose and
    how many matching composes carried it; versions no matching compose carried are
    left out."""
    r = rpms.c
    versions = (await conn.execute(
        select(r.epoch, r.version, r.release).where(r.name == name)
        .group_by(r.epoch, r.version, r.release).limit(MAX_VERSIONS))).all()
    found = []
    for epoch, version, release in versions:
        carried = [composes_containing([r.name == name, r.epoch == epoch,
                                        r.version == version, r.release == release],
                                       conn.dialect.name), *conditions]
        first = await _edge(conn, carried, newest=False)
        if first is None:
            continue
        last = await _edge(conn, carried, newest=True)
        count = (await conn.execute(
            select(func.count()).select_from(composes).where(*carried))).scalar_one()
        found.append({"epoch": epoch, "version": version, "release": release,
                      "evr": format_evr(epoch, version, release), "composes": count,
                      "first": first, "last": last})
    return sort_by_evr(found)


async def _edge(conn: AsyncConnection, conditions: list[Any], *,
                newest: bool) -> dict[str, Any] | None:
    c = composes.c
    keys = (c.date, c.respin, c.pk)
    row = (await conn.execute(
        select(c.compose_id, c.date, c.respin).where(*conditions)
        .order_by(*(key.desc() if newest else key.asc() for key in keys)).limit(1))).first()
    if row is None:
        return None
    return {"compose_id": row.compose_id, "date": row.date, "respin": row.respin}
