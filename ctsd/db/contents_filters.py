"""Compose list filters on contents (issue #12): rpm_nvr, rpm_nevra, rpm_name, srpm_nvr,
variant and arch. Each is one condition on `composes.pk`, ANDed with every other list
filter, so order_by and both paginations work unchanged.

On PostgreSQL "contains one of these rpms" is `rpm_ids && ARRAY(SELECT id FROM rpms
WHERE ...)`: the ARRAY is computed once (an index lookup in `rpms`), and the GIN index
on `compose_rpm_ids.rpm_ids` finds the composes holding any of them. SQLite scans the
JSON arrays with json_each, which is fine at the embedded default's scale.
"""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping
from sqlalchemy import ColumnElement, Integer, any_, exists, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement as _Element
from sqlalchemy.sql.visitors import InternalTraversal

from ctsd.db.contents_tables import compose_rpm_ids, compose_variant_arches, rpms
from ctsd.db.tables import composes
from handlers.contents_parse import parse_nevra
from handlers.errors import InvalidInput

Condition = ColumnElement[bool]
RPM_FILTERS = ("rpm_nvr", "rpm_nevra", "rpm_name", "srpm_nvr")
CONTENTS_FILTERS = (*RPM_FILTERS, "variant", "arch")


class ArrayOf(_Element[Any]):
    """PostgreSQL `ARRAY(SELECT ...)`: the one-column subquery's rows as an array."""

    inherit_cache = True
    # The subquery is part of the cache key (its values are bound parameters). Without
    # this SQLAlchemy cannot cache any statement holding an ArrayOf, and compiled the
    # whole compose list query again on every request: a quarter of the server's time
    # on `?rpm_nvr=` (py-spy), and the package history compiled 3 statements a version.
    _traverse_internals = [("subquery", InternalTraversal.dp_clauseelement)]  # noqa: RUF012
    type = ARRAY(Integer)

    def __init__(self, subquery: Any) -> None:
        self.subquery = subquery


@compiles(ArrayOf)
def _compile_array_of(element: ArrayOf, compiler: Any, **kw: Any) -> str:
    return "ARRAY" + str(compiler.process(element.subquery.scalar_subquery(), **kw))


def split_nvr(value: str, key: str) -> tuple[str, str, str]:
    """name, version, release of an N-V-R (the name may contain dashes)."""
    parts = value.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise InvalidInput(f"{key} must be NAME-VERSION-RELEASE, not {value!r}")
    return parts[0], parts[1], parts[2]


def rpm_id_conditions(key: str, value: str) -> list[Condition]:
    """Conditions on `rpms` for one filter parameter."""
    c = rpms.c
    if key == "rpm_name":
        return [c.name == value]
    if key == "rpm_nvr":
        name, version, release = split_nvr(value, key)
        return [c.name == name, c.version == version, c.release == release]
    if key == "srpm_nvr":
        name, version, release = split_nvr(value, key)
        return [c.srpm_name == name, c.srpm_version == version, c.srpm_release == release]
    # rpm_nevra: the epoch may be left out (then any epoch matches).
    text = value if ":" in value else _with_any_epoch(value)
    nevra = parse_nevra(text, key)
    conditions = [c.name == nevra.name, c.version == nevra.version,
                  c.release == nevra.release, c.arch == nevra.arch]
    return conditions if ":" not in value else [*conditions, c.epoch == nevra.epoch]


def _with_any_epoch(value: str) -> str:
    name, version, release = split_nvr(value, "rpm_nevra")
    return f"{name}-0:{version}-{release}"


def id_lists_containing(conditions: list[Condition], dialect: str) -> Any:
    """SELECT compose_pk of the composes holding any rpm matching `conditions`."""
    ids = select(rpms.c.id).where(*conditions)
    if dialect == "postgresql":
        # The GIN probe of migration 0014's function (why a function: see there).
        holding = func.cts_composes_holding(ArrayOf(ids)).table_valued(
            "compose_pk").render_derived()
        return select(holding.c.compose_pk)
    lists = compose_rpm_ids
    member = func.json_each(lists.c.rpm_ids).table_valued("value")
    holds = exists(select(member.c.value).where(member.c.value.in_(ids)))
    return select(lists.c.compose_pk).where(holds)


def composes_containing(conditions: list[Condition], dialect: str) -> Condition:
    """composes.pk is one of the composes holding an rpm matching `conditions`.

    On PostgreSQL as `pk = ANY(ARRAY(SELECT compose_pk ...))`: the inner query runs
    once, on its own, where the planner does use the GIN index. Written as `pk IN
    (SELECT ...)` the planner may instead probe every candidate compose's arrays one by
    one (seen: 2.8 s at 2,000 composes, against 4 ms this way).
    """
    matching = id_lists_containing(conditions, dialect)
    if dialect == "postgresql":
        return composes.c.pk == any_(ArrayOf(matching))
    return composes.c.pk.in_(matching)


def contents_conditions(query: MultiMapping[str], dialect: str) -> list[Condition]:
    """Every contents filter of the compose list, ANDed (repeated parameters too)."""
    conditions: list[Condition] = []
    for key in RPM_FILTERS:
        for value in query.getall(key, []):
            if value:
                conditions.append(composes_containing(rpm_id_conditions(key, value), dialect))
    conditions.extend(_variant_arch_conditions(query))
    return conditions


def _variant_arch_conditions(query: MultiMapping[str]) -> list[Condition]:
    """variant=V: composes with variant V; arch=A: with arch A in some variant; both
    given once: variant V has arch A."""
    variants = [value for value in query.getall("variant", []) if value]
    arches = [value for value in query.getall("arch", []) if value]
    va = compose_variant_arches.c
    if len(variants) == 1 and len(arches) == 1:
        return [exists().where(va.compose_pk == composes.c.pk, va.variant == variants[0],
                               va.arch == arches[0])]
    return [*(exists().where(va.compose_pk == composes.c.pk, va.variant == v) for v in variants),
            *(exists().where(va.compose_pk == composes.c.pk, va.arch == a) for a in arches)]
