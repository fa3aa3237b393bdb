"""A package's history: each version of an rpm name with the first and the last
compose (among those matching the list filters) that carried it.

One statement, whatever the number of versions: every `rpms` row of the name joined to
the composes holding it (compose_rpm_ids) that pass the filters; the versions are then
gathered here. On PostgreSQL each row of the name probes the GIN index on
`compose_rpm_ids.rpm_ids` on its own (LATERAL cts_composes_holding(ARRAY[id])); SQLite walks
the JSON arrays, which is fine at the embedded default's scale. It used to be three
statements per version (534 ms at 2,000 composes for ~40 versions).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import FromClause, Row, Select, func, select, true
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.contents_diff import sort_by_evr
from ctsd.db.contents_tables import compose_rpm_ids, rpms
from ctsd.db.tables import composes
from handlers.evr import format_evr

MAX_VERSIONS = 500  # the newest ones, by rpm's ordering


async def package_history(conn: AsyncConnection, name: str,
                          conditions: list[Any]) -> list[dict[str, Any]]:
    """Versions of `name` (any arch), oldest first, each with first/last compose and
    how many matching composes carried it; versions no matching compose carried are
    left out."""
    versions: dict[tuple[int, str, str], list[Any]] = {}
    for row in await conn.execute(history_statement(name, conditions, conn.dialect.name)):
        versions.setdefault((row.epoch, row.version, row.release), []).append(row)
    found = [_version(evr, rows) for evr, rows in versions.items()]
    return sort_by_evr(found)[-MAX_VERSIONS:]


def history_statement(name: str, conditions: list[Any], dialect: str) -> Select[Any]:
    """Each (version of `name`, compose carrying it) once, for the matching composes."""
    r, c = rpms.c, composes.c
    carriers, compose_pk = _carriers(dialect)
    return (select(r.epoch, r.version, r.release, c.compose_id, c.date, c.respin, c.pk)
            .select_from(carriers.join(composes, c.pk == compose_pk))
            .where(r.name == name, *conditions).distinct())


def _carriers(dialect: str) -> tuple[FromClause, Any]:
    """`rpms` joined to the id lists holding each row, and their compose_pk column."""
    s = compose_rpm_ids.c
    if dialect == "postgresql":
        # One GIN probe per rpms row, through migration 0014's function (why: see
        # there); a function scan is never flattened into a join.
        holding = func.cts_composes_holding(array([rpms.c.id])).table_valued(
            "compose_pk").render_derived().lateral("holding")
        return rpms.join(holding, true()), holding.c.compose_pk
    member = func.json_each(s.rpm_ids).table_valued("value")
    joined = rpms.join(compose_rpm_ids, true()).join(member, member.c.value == rpms.c.id)
    return joined, s.compose_pk


def _version(evr: tuple[int, str, str], rows: list[Row[Any]]) -> dict[str, Any]:
    ordered = sorted(rows, key=lambda row: (row.date, row.respin, row.pk))
    epoch, version, release = evr
    return {"epoch": epoch, "version": version, "release": release,
            "evr": format_evr(epoch, version, release), "composes": len(ordered),
            "first": _edge(ordered[0]), "last": _edge(ordered[-1])}


def _edge(row: Row[Any]) -> dict[str, Any]:
    return {"compose_id": row.compose_id, "date": row.date, "respin": row.respin}
