"""Keyset ("cursor") pagination's SQL: the sort keys and the condition that seeks past
the sort values of the previous page's last row. The opaque cursor that carries those
values is ctsd/api/keyset.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, false, literal, or_, tuple_

from ctsd.db.queries.filters import Condition, Field


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key: its field and direction."""

    name: str
    field: Field
    descending: bool

    @property
    def spelled(self) -> str:
        return f"-{self.name}" if self.descending else self.name

    @property
    def nullable(self) -> bool:
        return bool(getattr(self.field.order_column, "nullable", False))


def sort_keys_of(parsed: Iterable[tuple[str, bool]], fields: Mapping[str, Field]
                 ) -> list[SortKey]:
    return [SortKey(name, fields[name], descending) for name, descending in parsed]


def seek_condition(keys: Sequence[SortKey], values: Sequence[Any]) -> Condition:
    """Rows strictly after `values` in the order of `keys` (the last key is unique).

    With one direction and no NULLs this is a row comparison, which PostgreSQL answers
    by walking a matching index from the cursor on. Mixed directions or nullable keys
    need the expanded form: after on key i, equal on every key before it.
    """
    columns = [key.field.order_column for key in keys]
    same_direction = len({key.descending for key in keys}) == 1
    if same_direction and not any(key.nullable for key in keys):
        row = tuple_(*columns)
        cursor = tuple_(*(_bound(column, value) for column, value in zip(columns, values,
                                                                      strict=True)))
        return row < cursor if keys[0].descending else row > cursor
    alternatives = []
    for index, (key, value) in enumerate(zip(keys, values, strict=True)):
        equal_before = [_equal(k.field.order_column, v)
                        for k, v in zip(keys[:index], values[:index], strict=True)]
        alternatives.append(and_(*equal_before, _after(key, value)))
    return or_(*alternatives)


def _bound(column: ColumnElement[Any], value: Any) -> BindParameter[Any]:
    # A bound parameter of the column's type: SQLAlchemy refuses `column > True`.
    return literal(value, column.type)


def _equal(column: ColumnElement[Any], value: Any) -> Condition:
    return column.is_(None) if value is None else column == _bound(column, value)


def _after(key: SortKey, value: Any) -> Condition:
    # NULLs sort last ascending and first descending (ctsd.db.queries.filters.order_clause).
    column = key.field.order_column
    if key.descending:
        if value is None:
            return column.is_not(None)
        return column < _bound(column, value)
    if value is None:
        return false()
    after = column > _bound(column, value)
    return or_(after, column.is_(None)) if key.nullable else after
