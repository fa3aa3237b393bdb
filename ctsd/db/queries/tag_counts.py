"""Exact totals of a compose list whose only filter is one `tag` value, without the join.

Counting `?tag=` (untagged) or `?tag=-removed` with NOT EXISTS anti-joins a million
composes with every tagging: a quarter of a second at 1,000,000 composes. compose_tags
has one row per (compose, tag) and a foreign key to composes, so the same totals are
exact from the compose_tags indexes alone:

- tag=T:  rows of T;
- tag=-T: composes minus rows of T;
- tag=:   composes minus distinct tagged composes.

"composes" is itself a sum of the counts per date on PostgreSQL (date_counts.py).
"""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping
from sqlalchemy import Select, distinct, func, select

from ctsd.db.queries.date_counts import NOT_FILTERS, composes_total
from ctsd.db.tables import compose_tags, tags


def tag_only_count(query: MultiMapping[str], dialect: str) -> Select[Any] | None:
    """The SELECT of the total when `tag` (once) is the list's only filter, else None."""
    filtering = {key for key in query if key not in NOT_FILTERS}
    values = query.getall("tag", [])
    if filtering != {"tag"} or len(values) != 1:
        return None
    value = values[0]
    all_composes = composes_total(dialect)
    if not value:
        tagged = select(func.count(distinct(compose_tags.c.compose_pk))).scalar_subquery()
        return select(all_composes - tagged)
    name = value.removeprefix("-")
    tag_id = select(tags.c.id).where(tags.c.name == name).scalar_subquery()
    rows_of_tag = (select(func.count()).select_from(compose_tags)
                   .where(compose_tags.c.tag_id == tag_id).scalar_subquery())
    return select(all_composes - rows_of_tag) if value.startswith("-") else select(rows_of_tag)
