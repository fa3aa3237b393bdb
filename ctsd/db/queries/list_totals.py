"""The v1 compose list's total from a cheaper source than a COUNT of composes, when
its filters allow one: the compose_tags indexes (tag_counts.py) or the counts per date
(date_counts.py). Both are exact."""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping
from sqlalchemy import Select

from ctsd.db.queries.date_counts import date_only_count
from ctsd.db.queries.tag_counts import tag_only_count


def list_total(query: MultiMapping[str], dialect: str) -> Select[Any] | None:
    """The SELECT of the list's total for `query`, or None when only a COUNT will do."""
    by_tag = tag_only_count(query, dialect)
    return by_tag if by_tag is not None else date_only_count(query, dialect)
