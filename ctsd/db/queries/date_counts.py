"""Exact totals of the v1 compose list from the counts per date, without counting composes.

A list with no filter, or filtered by date_before / date_after only, has as total the
sum of ctsd.db.count_tables.compose_date_counts over the dates in range: one row per date
and slot, a millisecond, where the COUNT read an index entry per compose (90-200 ms at
1,000,000 composes, `?date_after=20200101` keeping 998,401 of them). The counts change in
the transactions that change composes, so the sum is exact in any snapshot. PostgreSQL
only: SQLite keeps no counts (migration 0013) and counts composes.
"""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping
from sqlalchemy import BigInteger, ScalarSelect, Select, cast, func, select

from ctsd.db.count_tables import compose_date_counts
from ctsd.db.queries.filters import date_range_conditions
from ctsd.db.tables import composes

# Parameters that do not filter: they do not change the total.
NOT_FILTERS = frozenset({"order_by", "page", "per_page"})
_DATE_FILTERS = frozenset({"date_before", "date_after"})


def composes_total(dialect: str) -> ScalarSelect[Any]:
    """How many composes there are, as a scalar subquery."""
    if dialect != "postgresql":
        return select(func.count()).select_from(composes).scalar_subquery()
    return _summed([])


def date_only_count(query: MultiMapping[str], dialect: str) -> Select[Any] | None:
    """The SELECT of the total when the list has no filter but dates, else None."""
    if dialect != "postgresql" or not {key for key in query if key not in NOT_FILTERS} <= \
            _DATE_FILTERS:
        return None
    return select(_summed(date_range_conditions(query, compose_date_counts.c.date)))


def _summed(conditions: list[Any]) -> ScalarSelect[Any]:
    total = func.coalesce(func.sum(compose_date_counts.c.n), 0)
    return select(cast(total, BigInteger)).where(*conditions).scalar_subquery()
