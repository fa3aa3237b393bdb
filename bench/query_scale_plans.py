"""What the query benchmark asks PostgreSQL directly: deep cursors to start pages from,
random compose ids, and EXPLAIN ANALYZE of the statements the server runs."""

from __future__ import annotations

import json
import random
from types import SimpleNamespace
from typing import Any

import psycopg2
from multidict import MultiDict
from sqlalchemy.dialects import postgresql

from bench.run_bench import PG_DSN
from ctsd.api.keyset import encode_cursor, filters_digest
from ctsd.api.keyset_listing import DEFAULT_ORDER
from ctsd.db.queries.compose_lists import page_statement
from ctsd.db.queries.compose_streams import (
    STREAM_POSITION,
    latest_statement,
    neighbour_statements,
)
from ctsd.db.queries.filters import COMPOSE_FIELDS, compose_conditions, sort_keys
from ctsd.db.queries.seek import sort_keys_of

# Relations that must never be read whole: a sequential scan of either is a missing index.
BIG_TABLES = {"composes", "compose_tags"}
_KEYS = sort_keys_of(sort_keys(MultiDict(), COMPOSE_FIELDS, DEFAULT_ORDER, "id"),
                     COMPOSE_FIELDS)


def _rows(database: str, sql: str, params: Any = None) -> list[Any]:
    conn = psycopg2.connect(PG_DSN.replace("dbname=postgres", f"dbname={database}"))
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def _sample_pks(size: int, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    # The deep half of the listing: newest first, so small pks are the deep pages.
    return [rng.randrange(1, max(2, size // 2)) for _ in range(count)]


def deep_cursors(database: str, size: int, count: int, **filters: str) -> list[str]:
    """Cursors continuing after composes deep in the default (-date, -id) listing."""
    where = " AND ".join(f"{name} = %({name})s" for name in filters) or "true"
    rows = _rows(database, f"SELECT date, compose_id FROM composes WHERE pk = ANY(%(pks)s) "
                           f"AND {where}",
                 {"pks": _sample_pks(size, count * 50 if filters else count, size), **filters})
    digest = filters_digest(filters.items())
    return [encode_cursor(_KEYS, digest, list(row)) for row in rows[:count]]


def random_compose_ids(database: str, size: int, count: int) -> list[str]:
    rows = _rows(database, "SELECT compose_id FROM composes WHERE pk = ANY(%s)",
                 (_sample_pks(size * 2, count, size + 1),))
    return [row[0] for row in rows]


def _sql(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"literal_binds": True}))


def statements(database: str, size: int) -> dict[str, Any]:
    stream = MultiDict(release_short="prod3", release_version="2.0", type="nightly",
                       tag="qa-passed", removed="false")
    deep = _rows(database, "SELECT date, compose_id FROM composes WHERE pk = %s",
                 (max(1, size // 10),))[0]
    position = STREAM_POSITION.where(COMPOSE_FIELDS["id"].column == deep[1])
    origin = _rows(database, _sql(position))[0]
    names = [column.name for column in position.selected_columns]
    before, after = neighbour_statements(SimpleNamespace(**dict(zip(names, origin,
                                                                    strict=True))), [])
    return {
        "latest_stream": latest_statement(compose_conditions(stream, "postgresql")),
        "latest_any": latest_statement(compose_conditions(
            MultiDict(tag="qa-passed", removed="false"), "postgresql")),
        "keyset_deep": page_statement([], _KEYS, list(deep), 21),
        "keyset_filtered": page_statement(
            compose_conditions(MultiDict(release_short="prod7"), "postgresql"),
            _KEYS, list(deep), 21),
        "neighbours_previous": before,
        "neighbours_next": after,
    }


def check_plans(database: str, size: int) -> dict[str, dict[str, Any]]:
    """EXPLAIN ANALYZE each statement: which indexes it used, which big table it scanned."""
    checked = {}
    for name, statement in statements(database, size).items():
        (plan,), = _rows(database, "EXPLAIN (ANALYZE, FORMAT JSON) " + _sql(statement))
        plan = plan if isinstance(plan, list) else json.loads(plan)
        nodes = list(_nodes(plan[0]["Plan"]))
        seq_scans = sorted({node["Relation Name"] for node in nodes
                            if node["Node Type"] == "Seq Scan"} & BIG_TABLES)
        indexes = sorted({node["Index Name"] for node in nodes if "Index Name" in node})
        checked[name] = {"indexes": indexes, "seq_scans": seq_scans,
                         "uses_indexes": bool(indexes) and not seq_scans,
                         "execution_ms": round(plan[0]["Execution Time"], 3)}
    return checked


def _nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
