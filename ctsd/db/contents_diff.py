"""What changed between two composes, per variant and arch: added, removed, upgraded,
downgraded and changed (same EVR, other build or signature) packages, and images
added or removed. The id arrays are compared as sets in memory; only the rpms that
differ are read from `rpms`."""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.contents_queries import rpm_rows
from ctsd.db.contents_store import decode_ids
from ctsd.db.contents_tables import compose_contents, compose_images, compose_rpm_sets
from handlers.errors import NotFound
from handlers.evr import compare_evr, format_evr

Place = tuple[str, str]  # (variant, arch)


async def rpm_sets(conn: AsyncConnection, compose_pk: int) -> dict[Place, set[int]]:
    s = compose_rpm_sets.c
    merged: dict[Place, set[int]] = {}
    for row in await conn.execute(select(s.variant, s.arch, s.rpm_ids)
                                  .where(s.compose_pk == compose_pk)):
        merged.setdefault((row.variant, row.arch), set()).update(decode_ids(row.rpm_ids))
    return merged


async def _require_rpms(conn: AsyncConnection, compose_pk: int, compose_id: str) -> None:
    c = compose_contents.c
    found = (await conn.execute(select(c.kind).where(
        c.compose_pk == compose_pk, c.kind == "rpms"))).first()
    if found is None:
        raise NotFound(f"Compose {compose_id} has no RPM contents imported")


async def diff(conn: AsyncConnection, old: tuple[int, str],
               new: tuple[int, str]) -> dict[str, Any]:
    for pk, compose_id in (old, new):
        await _require_rpms(conn, pk, compose_id)
    before, after = await rpm_sets(conn, old[0]), await rpm_sets(conn, new[0])
    differing = {place: (before.get(place, set()) - after.get(place, set()),
                         after.get(place, set()) - before.get(place, set()))
                 for place in before.keys() | after.keys()}
    rows = await rpm_rows(conn, sorted({rpm_id for gone, came in differing.values()
                                        for rpm_id in gone | came}))
    images = await _image_changes(conn, old[0], new[0])
    changes = []
    for place in sorted(differing.keys() | images.keys()):
        gone, came = differing.get(place, (set(), set()))
        entry = {"variant": place[0], "arch": place[1],
                 **_package_changes([rows[i] for i in gone], [rows[i] for i in came]),
                 **images.get(place, {"images_added": [], "images_removed": []})}
        if any(entry[key] for key in entry if key not in ("variant", "arch")):
            changes.append(entry)
    return {"from": old[1], "to": new[1], "changes": changes}


def _by_package(rows: list[Any]) -> dict[tuple[str, str], Any]:
    """The newest row of each name.arch (a set may carry several versions of one)."""
    newest: dict[tuple[str, str], Any] = {}
    for row in rows:
        key = (row.name, row.arch)
        if key not in newest or compare_evr(_evr(row), _evr(newest[key])) > 0:
            newest[key] = row
    return newest


def _evr(row: Any) -> tuple[int, str, str]:
    return (row.epoch, row.version, row.release)


def _package_changes(gone: list[Any], came: list[Any]) -> dict[str, list[dict[str, Any]]]:
    old, new = _by_package(gone), _by_package(came)
    result: dict[str, list[dict[str, Any]]] = {
        "added": [], "removed": [], "upgraded": [], "downgraded": [], "changed": []}
    for key in sorted(old.keys() | new.keys()):
        name, arch = key
        if key not in old:
            result["added"].append({"name": name, "arch": arch, "evr": _text(new[key])})
        elif key not in new:
            result["removed"].append({"name": name, "arch": arch, "evr": _text(old[key])})
        else:
            order = compare_evr(_evr(new[key]), _evr(old[key]))
            bucket = "upgraded" if order > 0 else "downgraded" if order < 0 else "changed"
            result[bucket].append({"name": name, "arch": arch, "old_evr": _text(old[key]),
                                   "new_evr": _text(new[key])})
    return result


def _text(row: Any) -> str:
    return format_evr(row.epoch, row.version, row.release)


async def _image_changes(conn: AsyncConnection, old_pk: int,
                         new_pk: int) -> dict[Place, dict[str, list[dict[str, Any]]]]:
    i = compose_images.c
    images: dict[int, dict[Place, dict[str, Any]]] = {old_pk: {}, new_pk: {}}
    for row in await conn.execute(select(i.compose_pk, i.variant, i.arch, i.identity, i.type,
                                         i.format, i.subvariant, i.path)
                                  .where(i.compose_pk.in_([old_pk, new_pk]))):
        item = {"type": row.type, "format": row.format, "subvariant": row.subvariant,
                "path": row.path}
        images[row.compose_pk].setdefault((row.variant, row.arch), {})[row.identity] = item
    result = {}
    for place in images[old_pk].keys() | images[new_pk].keys():
        before, after = images[old_pk].get(place, {}), images[new_pk].get(place, {})
        result[place] = {
            "images_added": [after[key] for key in sorted(after.keys() - before.keys())],
            "images_removed": [before[key] for key in sorted(before.keys() - after.keys())],
        }
    return result


def sort_by_evr(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest version first, by rpm's ordering."""
    def order(a: dict[str, Any], b: dict[str, Any]) -> int:
        return compare_evr((a["epoch"], a["version"], a["release"]),
                           (b["epoch"], b["version"], b["release"]))
    return sorted(items, key=cmp_to_key(order))
