"""Turn list query strings into validated SQL conditions and ORDER BY clauses.

The existing service passed query values straight into SQL: LIKE wildcards matched
anything, a second form of one field silently replaced the first, and dates and
booleans were not checked. Here every value is validated (400 otherwise), LIKE
patterns are escaped, and every condition is ANDed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from multidict import MultiMapping
from sqlalchemy import ColumnElement, String, cast, exists, select
from sqlalchemy.sql.elements import UnaryExpression

from ctsd.db.contents_filters import contents_conditions
from ctsd.db.queries.distinct_values import distinct_values
from ctsd.db.tables import compose_tags, composes, tags
from handlers.errors import InvalidInput

Kind = Literal["text", "int", "bool", "date"]
Condition = ColumnElement[bool]

# Text-matching forms of a filter; "" is the exact match.
TEXT_SUFFIXES = ("_contains", "_startswith", "_endswith")

_INTEGER = re.compile(r"^-?[0-9]{1,10}$")
_DATE = re.compile(r"^[0-9]{8}$")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
# Integer columns are 32-bit on PostgreSQL; a bigger literal would fail inside the driver.
_INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Field:
    """A filterable (and sortable) field of a list: its column and how values parse."""

    column: ColumnElement[Any]
    kind: Kind = "text"
    # The column to sort by when it is not the filter column (release_version).
    sort_column: ColumnElement[Any] | None = None
    # Few distinct values (products, kinds) and an index leading with the column: text
    # matches are made on the distinct values (ctsd/db/queries/distinct_values.py).
    few_values: bool = False

    @property
    def order_column(self) -> ColumnElement[Any]:
        return self.column if self.sort_column is None else self.sort_column


_c = composes.c
COMPOSE_FIELDS: dict[str, Field] = {
    "id": Field(_c.compose_id),
    "date": Field(_c.date, "date"),
    "respin": Field(_c.respin, "int"),
    "type": Field(_c.type, few_values=True),
    "label": Field(_c.label),
    "final": Field(_c.final, "bool"),
    "release_name": Field(_c.release_name, few_values=True),
    # Zero-padded numbers in release_version_key make "8.10" sort after "8.9".
    "release_version": Field(_c.release_version, sort_column=_c.release_version_key),
    "release_short": Field(_c.release_short, few_values=True),
    "release_is_layered": Field(_c.release_is_layered, "bool"),
    "release_type": Field(_c.release_type, few_values=True),
    "release_internal": Field(_c.release_internal, "bool"),
    "base_product_name": Field(_c.base_product_name),
    "base_product_short": Field(_c.base_product_short),
    "base_product_version": Field(_c.base_product_version),
    "base_product_type": Field(_c.base_product_type),
    "builder": Field(_c.builder),
}

TAG_FIELDS: dict[str, Field] = {
    "id": Field(tags.c.id, "int"),
    "name": Field(tags.c.name),
}


def reject_unknown(query: MultiMapping[str], allowed: Collection[str], help_text: str) -> None:
    """400 naming every parameter the list does not know (they used to be ignored)."""
    unknown = sorted({key for key in query if key not in allowed})
    if unknown:
        raise InvalidInput(f"Unknown query parameters: {', '.join(unknown)}. {help_text}")


def filter_names(fields: Iterable[str], suffixes: Iterable[str]) -> set[str]:
    """Every parameter name the fields accept: each field with each suffix."""
    return {name + suffix for name in fields for suffix in ("", *suffixes)}


def field_conditions(query: MultiMapping[str], fields: Mapping[str, Field],
                     dialect: str) -> list[Condition]:
    """One condition per filter parameter value (the text matches of a few-valued field:
    one for them all); empty values mean "no filter"."""
    conditions: list[Condition] = []
    value_matches: dict[str, list[tuple[str, str]]] = {}
    for key, value in query.items():
        name, suffix = _split_suffix(key)
        field = fields.get(name)
        if field is None or not value:
            continue
        if suffix and field.few_values:
            value_matches.setdefault(name, []).append((suffix, value))
        elif suffix:
            conditions.append(_text_match(field, key, suffix, value, dialect))
        else:
            conditions.append(field.column == parse_value(field.kind, key, value))
    for name, matches in value_matches.items():
        conditions.append(_match_on_values(fields[name].column, matches, dialect))
    return conditions


def _match_on_values(column: ColumnElement[Any], matches: list[tuple[str, str]],
                     dialect: str) -> Condition:
    """Every text match of one few-valued field, made on its distinct values at once.

    At once, because apart each IN was estimated to keep one value and PostgreSQL then
    read every compose of the other match (1.1 s at 1,000,000 composes)."""
    values = distinct_values(column)
    return column.in_(select(values.c.value).where(
        *(_pattern_match(values.c.value, suffix, value, dialect) for suffix, value in matches)))


def _split_suffix(key: str) -> tuple[str, str]:
    for suffix in TEXT_SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)], suffix
    return key, ""


def parse_value(kind: Kind, key: str, value: str) -> Any:
    """The Python value of an exact filter, or a 400 that says what is expected."""
    if kind == "bool":
        if value.lower() not in _BOOLEANS:
            raise InvalidInput(f"{key} must be true, false, 1 or 0, not {value!r}")
        return _BOOLEANS[value.lower()]
    if kind == "int":
        if not _INTEGER.match(value) or abs(int(value)) > _INT_MAX:
            raise InvalidInput(f"{key} must be an integer, not {value!r}")
        return int(value)
    if kind == "date":
        return parse_date(key, value)
    return value


def parse_date(key: str, value: str) -> str:
    """A YYYYMMDD date that exists on the calendar, as stored in composes.date."""
    if not _DATE.match(value) or not _on_calendar(value):
        raise InvalidInput(f"{key} must be a date as YYYYMMDD, not {value!r}")
    return value


def _on_calendar(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        return False
    return True


def _text_match(field: Field, key: str, suffix: str, value: str, dialect: str) -> Condition:
    if field.kind == "bool":
        raise InvalidInput(f"{key}: a boolean field has no text match; use true or false")
    column = field.column if field.kind != "int" else cast(field.column, String)
    return _pattern_match(column, suffix, value, dialect)


def _pattern_match(column: ColumnElement[Any], suffix: str, value: str,
                   dialect: str) -> Condition:
    if dialect == "sqlite":
        # SQLite's LIKE ignores case; GLOB matches case-sensitively like PostgreSQL's LIKE.
        return column.op("GLOB")(_glob_pattern(suffix, value))
    if suffix == "_contains":
        return column.contains(value, autoescape=True)
    if suffix == "_startswith":
        return column.startswith(value, autoescape=True)
    return column.endswith(value, autoescape=True)


def _glob_pattern(suffix: str, value: str) -> str:
    # In GLOB a bracketed character is always literal: [*] [?] [[] .
    literal = "".join(f"[{char}]" if char in "*?[" else char for char in value)
    if suffix == "_contains":
        return f"*{literal}*"
    if suffix == "_startswith":
        return f"{literal}*"
    return f"*{literal}"


def compose_conditions(query: MultiMapping[str], dialect: str) -> list[Condition]:
    """Every filter of the compose list (fields, dates, tags, removed), ANDed."""
    return [
        *field_conditions(query, COMPOSE_FIELDS, dialect),
        *date_range_conditions(query),
        *tag_conditions(query),
        *removed_conditions(query),
        *contents_conditions(query, dialect),
    ]


def date_range_conditions(query: MultiMapping[str],
                          column: ColumnElement[Any] = composes.c.date) -> list[Condition]:
    """date_before / date_after: strictly before / after the given YYYYMMDD (of `column`:
    composes' date, or a table of counts per date)."""
    conditions: list[Condition] = []
    for value in query.getall("date_before", []):
        if value:
            conditions.append(column < parse_date("date_before", value))
    for value in query.getall("date_after", []):
        if value:
            conditions.append(column > parse_date("date_after", value))
    return conditions


def removed_conditions(query: MultiMapping[str]) -> list[Condition]:
    """removed=false: composes whose data is still there; removed=true: removed ones."""
    conditions: list[Condition] = []
    for value in query.getall("removed", []):
        if value:
            removed = parse_value("bool", "removed", value)
            column = composes.c.removed_at
            conditions.append(column.is_not(None) if removed else column.is_(None))
    return conditions


def tag_conditions(query: MultiMapping[str]) -> list[Condition]:
    """tag=A: tagged A; tag=-A: not tagged A; tag= (empty): no tag at all."""
    return [tag_condition(value) for value in query.getall("tag", [])]


@functools.lru_cache(maxsize=256)
def tag_condition(value: str) -> Condition:
    """The condition of one tag= value. Built once per value and shared (SQLAlchemy
    elements never change once built): building it was a third of a filtered list
    page's Python time, and lists name the same few tags again and again."""
    if not value:
        return ~exists().where(compose_tags.c.compose_pk == composes.c.pk)
    name = value[1:] if value.startswith("-") else value
    if not name:
        raise InvalidInput('tag=- needs a tag name after the "-"')
    # The tag id is an uncorrelated subquery, evaluated once per query; the EXISTS
    # then probes the (compose_pk, tag_id) primary key for each candidate compose.
    tag_id = select(tags.c.id).where(tags.c.name == name).scalar_subquery()
    tagged = exists().where(compose_tags.c.compose_pk == composes.c.pk,
                            compose_tags.c.tag_id == tag_id)
    return ~tagged if value.startswith("-") else tagged


def order_clauses(query: MultiMapping[str], fields: Mapping[str, Field], default: list[str],
                  tiebreaker: str) -> list[UnaryExpression[Any]]:
    """ORDER BY from the repeatable order_by ("-" for descending), ending with a unique key.

    The unique tiebreaker keeps pages stable: without it rows with equal sort values
    may swap between two page queries and show up twice or never.
    """
    return [order_clause(fields[name].order_column, descending=descending)
            for name, descending in sort_keys(query, fields, default, tiebreaker)]


def sort_keys(query: MultiMapping[str], fields: Mapping[str, Field], default: list[str],
              tiebreaker: str) -> list[tuple[str, bool]]:
    """The validated order_by keys as (field name, descending), ending with a unique key."""
    keys = [key for key in query.getall("order_by", []) if key] or default
    parsed = []
    for key in keys:
        name = key[1:] if key.startswith("-") else key
        if name not in fields:
            raise InvalidInput(
                f"An invalid order_by key was supplied, allowed keys are: {list(fields)}"
            )
        parsed.append((name, key.startswith("-")))
    if not any(name == tiebreaker for name, _ in parsed):
        # Same direction as the last key, so (date DESC, compose_id DESC) can walk an index.
        parsed.append((tiebreaker, parsed[-1][1]))
    return parsed


def order_clause(column: ColumnElement[Any], *, descending: bool) -> UnaryExpression[Any]:
    clause = column.desc() if descending else column.asc()
    # PostgreSQL's defaults (NULLs last ascending, first descending), spelled out so that
    # SQLite sorts nullable columns the same way.
    if getattr(column, "nullable", False):
        return clause.nulls_first() if descending else clause.nulls_last()
    return clause
