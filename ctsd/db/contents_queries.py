"""Read queries on compose contents: a compose's rpms and images pages, and what was
imported (storage design: ctsd.db.contents_tables). Diff and package history are in
ctsd.db.contents_diff and ctsd.db.contents_history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.contents_store import decode_ids
from ctsd.db.contents_tables import (
    compose_contents,
    compose_images,
    compose_rpm_sets,
    contents_fetch_jobs,
    rpms,
)
from ctsd.db.tables import composes
from handlers.errors import NotFound

_SQLITE_CHUNK = 500


@dataclass(frozen=True)
class SetFilter:
    variant: str | None = None
    arch: str | None = None
    category: str | None = None


async def compose_pk_of(conn: AsyncConnection, compose_id: str) -> int:
    pk = (await conn.execute(
        select(composes.c.pk).where(composes.c.compose_id == compose_id))).scalar()
    if pk is None:
        raise NotFound(f"Compose {compose_id} does not exist")
    return int(pk)


def _set_conditions(compose_pk: int, wanted: SetFilter) -> list[Any]:
    s = compose_rpm_sets.c
    conditions = [s.compose_pk == compose_pk]
    for column, value in ((s.variant, wanted.variant), (s.arch, wanted.arch),
                          (s.category, wanted.category)):
        if value:
            conditions.append(column == value)
    return conditions


async def rpm_rows(conn: AsyncConnection, ids: list[int]) -> dict[int, Row[Any]]:
    """The `rpms` rows of these ids, by id."""
    found: dict[int, Row[Any]] = {}
    step = len(ids) if conn.dialect.name == "postgresql" else _SQLITE_CHUNK
    for start in range(0, len(ids), max(step, 1)):
        chunk = ids[start:start + step]
        for row in await conn.execute(select(rpms).where(rpms.c.id.in_(chunk))):
            found[row.id] = row
    return found


async def rpms_page(conn: AsyncConnection, compose_pk: int, wanted: SetFilter,
                    name: str | None, *, offset: int,
                    limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page) of the compose's rpm entries, ordered by variant, arch,
    category, then name. Without a name filter a page reads only its slice of ids."""
    s = compose_rpm_sets.c
    order = (s.variant, s.arch, s.category)
    if name:
        named = set((await conn.execute(select(rpms.c.id).where(rpms.c.name == name)))
                    .scalars())
        rows = await conn.execute(select(*order, s.rpm_ids)
                                  .where(*_set_conditions(compose_pk, wanted)).order_by(*order))
        members = [(row.variant, row.arch, row.category, rpm_id) for row in rows
                   for rpm_id in decode_ids(row.rpm_ids) if rpm_id in named]
        return len(members), await _items(conn, members[offset:offset + limit])
    counts = (await conn.execute(select(*order, s.count.label("entries"))
                                 .where(*_set_conditions(compose_pk, wanted))
                                 .order_by(*order))).all()
    total = sum(row.entries for row in counts)
    members = []
    skip = offset
    for row in counts:
        if len(members) >= limit:
            break
        if skip >= row.entries:
            skip -= row.entries
            continue
        take = min(row.entries - skip, limit - len(members))
        ids = await _slice(conn, compose_pk, row, skip, take)
        members.extend((row.variant, row.arch, row.category, rpm_id) for rpm_id in ids)
        skip = 0
    return total, await _items(conn, members)


async def _slice(conn: AsyncConnection, compose_pk: int, key: Any, skip: int,
                 take: int) -> list[int]:
    s = compose_rpm_sets.c
    where = [s.compose_pk == compose_pk, s.variant == key.variant, s.arch == key.arch,
             s.category == key.category]
    if conn.dialect.name == "postgresql":
        # PostgreSQL arrays are 1-based and slices inclusive.
        value = (await conn.execute(
            select(s.rpm_ids[skip + 1:skip + take]).where(*where))).scalar()
        return list(value or [])
    value = (await conn.execute(select(s.rpm_ids).where(*where))).scalar()
    return decode_ids(value)[skip:skip + take]


async def _items(conn: AsyncConnection,
                 members: list[tuple[str, str, str, int]]) -> list[dict[str, Any]]:
    rows = await rpm_rows(conn, [rpm_id for *_, rpm_id in members])
    return [rpm_item(rows[rpm_id], variant=variant, arch=arch)
            for variant, arch, _category, rpm_id in members]


def rpm_item(row: Any, **where: str) -> dict[str, Any]:
    return {
        **where, "category": row.category, "name": row.name, "epoch": row.epoch,
        "version": row.version, "release": row.release, "package_arch": row.arch,
        "nevra": f"{row.name}-{row.epoch}:{row.version}-{row.release}.{row.arch}",
        "srpm_nevra": f"{row.srpm_name}-{row.srpm_epoch}:{row.srpm_version}-"
                      f"{row.srpm_release}.src",
        "sigkey": row.sigkey, "path": row.path,
    }


async def images_page(conn: AsyncConnection, compose_pk: int, filters: dict[str, str],
                      *, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    i = compose_images.c
    conditions = [i.compose_pk == compose_pk]
    conditions += [i[key] == value for key, value in filters.items() if value]
    total = (await conn.execute(select(func.count()).where(*conditions))).scalar_one()
    rows = await conn.execute(select(i.variant, i.arch, i.data).where(*conditions)
                              .order_by(i.variant, i.arch, i.path, i.id)
                              .limit(limit).offset(offset))
    return total, [{"variant": row.variant, "arch": row.arch, **row.data} for row in rows]


async def contents_summary(conn: AsyncConnection, compose_pk: int) -> dict[str, Any]:
    """What was imported (per kind) and the state of the automatic fetch."""
    summary: dict[str, Any] = {"rpms": None, "images": None, "fetch": None}
    for row in (await conn.execute(select(compose_contents).where(
            compose_contents.c.compose_pk == compose_pk))).mappings():
        summary[row["kind"]] = {"count": row["count"], "digest": row["digest"],
                                "imported_at": row["imported_at"],
                                "imported_by": row["imported_by"]}
    job = (await conn.execute(select(contents_fetch_jobs).where(
        contents_fetch_jobs.c.compose_pk == compose_pk))).first()
    if job is not None:
        summary["fetch"] = {"url": job.url, "state": job.state, "attempts": job.attempts,
                            "last_error": job.last_error, "updated_at": job.updated_at,
                            "next_attempt_at": job.next_attempt_at}
    return summary
