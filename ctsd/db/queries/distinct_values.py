"""Text matches on a field with few distinct values, as a match on those values.

`release_short_contains=d20` as `release_short LIKE '%d20%'` reads every index entry of
composes (a LIKE with a leading wildcard cannot seek), and its COUNT took 150 ms at
1,000,000 composes. A pg_trgm GIN index did not help: GIN cannot answer a COUNT from the
index alone, so the count still visited every heap page holding a match (25,000 pages,
100-500 ms). Fields such as release_short hold a few dozen distinct values however many
composes there are, so the match is made on the distinct values instead:

    release_short IN (SELECT value FROM <distinct release_shorts> WHERE value LIKE ...)

The distinct values come from a recursive "skip scan" of the field's btree index (one
descent per distinct value), and the composes of the matching values are then read with
the same index, entries of matches only: an index-only COUNT of 25,000 entries, ~10 ms.
The answer is the same set of rows, within the statement's one snapshot, on PostgreSQL
and SQLite alike. It costs one index descent per distinct value, so it is only for fields
whose values name products and kinds (tens to a few thousand), never for ids or labels.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.sql.selectable import CTE

from ctsd.db.tables import composes


def distinct_values(column: ColumnElement[Any]) -> CTE:
    """The distinct values of a composes column, smallest first, ending with one NULL.

    Each step asks the index for the smallest value above the previous one; min() rather
    than ORDER BY ... LIMIT 1 because SQLite refuses ORDER BY in a compound SELECT's
    first part, and both databases answer min() of an indexed column with one seek."""
    name = column.key
    if name is None or name not in composes.c:
        raise ValueError(f"not a column of composes: {column}")
    first = select(select(func.min(column)).scalar_subquery().label("value"))
    values = first.cte(f"distinct_{name}", recursive=True)
    later = composes.alias(f"later_{name}")
    following = (select(func.min(later.c[name]))
                 .where(later.c[name] > values.c.value).scalar_subquery())
    return values.union_all(select(following).where(values.c.value.is_not(None)))
