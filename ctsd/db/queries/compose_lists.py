"""Pages of the compose list: by OFFSET (the v1 list, with a total) and by keyset.

Each OFFSET page costs a COUNT and a LIMIT/OFFSET query over the pks alone (both use the
indexes in ctsd.db.tables), then the representations of that page's rows only. A keyset
page starts right after the previous page's last sort values and counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import operators

from ctsd.db.queries.filters import order_clause
from ctsd.db.queries.seek import SortKey, seek_condition
from ctsd.db.representation import REPRESENTATION_ROWS, answers_of_rows
from ctsd.db.tables import composes

# Far past any last page, and beyond what OFFSET (a bigint) can hold.
MAX_OFFSET = 2**62
_LIMIT = bindparam("page_limit", type_=Integer)
_OFFSET = bindparam("page_offset", type_=Integer)


@dataclass(frozen=True)
class OffsetListing:
    """The statements of one filter and order, built once: a page forwards, a page from
    the far end (reversed order), and the total. LIMIT and OFFSET are parameters, so
    the same statements serve every page. Building them and SQLAlchemy's cache key
    walk over them were half of a list page's Python time; ctsd.api.listing keeps the
    listings of recent queries, and executing a kept statement skips both."""

    forward: Select[Any]
    backward: Select[Any]
    total: Select[Any]


def offset_listing(conditions: list[Any], order: list[Any],
                   counted: Select[Any] | None = None) -> OffsetListing:
    """`counted`: a SELECT of the same total that is cheaper than counting the
    conditions (ctsd.db.queries.list_totals), if there is one."""
    where = select(composes.c.pk).where(*conditions)
    return OffsetListing(
        forward=_page_statement(where, order),
        backward=_page_statement(where, [reversed_clause(clause) for clause in order]),
        total=counted if counted is not None else count_statement(where),
    )


async def offset_page(conn: AsyncConnection, listing: OffsetListing, offset: int,
                      per_page: int) -> tuple[int, list[Any]]:
    """The total of matching composes and the answers of one page of them (stored or
    built: ctsd.db.representation.answers_of_rows)."""
    total, rows = await _offset_rows(conn, listing, offset, per_page)
    return total, await answers_of_rows(conn, rows)


async def _offset_rows(conn: AsyncConnection, listing: OffsetListing, offset: int,
                       per_page: int) -> tuple[int, list[Any]]:
    """The total and one page of rows with the representation columns.

    The page's pks in sort order (an index walk that stops after the page) and a COUNT
    apart. Counting in the page query instead (count() over ()) made PostgreSQL sort
    every match before the first row: 1.3 s for `?tag=` at 1,000,000 composes. A first
    page that is not full is the whole list: its length is the total, no COUNT (the
    usual narrow filter costs one query). A page in the second half is taken from the
    other end with the order reversed, so the last page walks per_page index entries.
    """
    if offset == 0:
        rows = await _page(conn, listing.forward, per_page, 0)
        if len(rows) < per_page:
            return len(rows), rows
    total = int((await conn.execute(listing.total)).scalar_one())
    if offset == 0:
        return total, rows
    if offset >= total or offset > MAX_OFFSET:
        return total, []
    limit = min(per_page, total - offset)
    if offset > total // 2:
        return total, list(reversed(await _page(conn, listing.backward, limit,
                                                total - offset - limit)))
    return total, await _page(conn, listing.forward, limit, offset)


def _page_statement(where: Select[Any], order: list[Any]) -> Select[Any]:
    window = where.order_by(*order).limit(_LIMIT).offset(_OFFSET).subquery()
    return REPRESENTATION_ROWS.join(window, window.c.pk == composes.c.pk).order_by(*order)


async def _page(conn: AsyncConnection, statement: Select[Any], limit: int,
                offset: int) -> list[Any]:
    return list((await conn.execute(statement, {"page_limit": limit,
                                                "page_offset": offset})).all())


def reversed_clause(clause: Any) -> Any:
    """The ORDER BY clause walking the other way: ASC <-> DESC, NULLS FIRST <-> LAST."""
    modifier = clause.modifier
    if modifier is operators.nulls_first_op:
        return reversed_clause(clause.element).nulls_last()
    if modifier is operators.nulls_last_op:
        return reversed_clause(clause.element).nulls_first()
    return clause.element.asc() if modifier is operators.desc_op else clause.element.desc()


async def count(conn: AsyncConnection, filtered: Select[Any]) -> int:
    """How many rows `filtered` selects: its keys only, no ORDER BY, no joins added."""
    return int((await conn.execute(count_statement(filtered))).scalar_one())


def count_statement(filtered: Select[Any]) -> Select[Any]:
    return select(func.count()).select_from(filtered.subquery())


async def keyset_page(conn: AsyncConnection, conditions: list[Any], keys: list[SortKey],
                      after: list[Any] | None, per_page: int
                      ) -> tuple[list[Any], list[Any] | None]:
    """Up to per_page answers (as offset_page's) after the cursor values `after`, and the sort
    values of the last one if more follow (None on the last page)."""
    statement = page_statement(conditions, keys, after, per_page + 1)
    rows = (await conn.execute(statement)).all()
    page, more = rows[:per_page], len(rows) > per_page
    last = [getattr(page[-1], f"sort_{i}") for i in range(len(keys))] if more else None
    return await answers_of_rows(conn, page), last


def page_statement(conditions: list[Any], keys: list[SortKey], after: list[Any] | None,
                   limit: int) -> Select[Any]:
    """The rows of a keyset page with their sort values (sort_0, sort_1, ...)."""
    if after is not None:
        conditions = [*conditions, seek_condition(keys, after)]
    sort_columns = [key.field.order_column.label(f"sort_{i}") for i, key in enumerate(keys)]
    order = [order_clause(key.field.order_column, descending=key.descending) for key in keys]
    return (REPRESENTATION_ROWS.add_columns(*sort_columns).where(*conditions)
            .order_by(*order).limit(limit))
