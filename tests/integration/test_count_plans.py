"""The v1 list totals that were slow at 1,000,000 composes read only what they count
(PostgreSQL only; bench/probe_scale_bench.py times them at 1,000,000). On 2,000 seeded
composes, EXPLAIN ANALYZE shows what each total read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from multidict import MultiDict
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from bench.query_scale_bench import grow
from bench.query_scale_plans import _nodes, _rows
from bench.run_bench import admin
from ctsd.db.queries.compose_lists import count_statement
from ctsd.db.queries.filters import compose_conditions
from ctsd.db.queries.list_totals import list_total
from ctsd.db.tables import composes

SIZE = 2000


def _count_plan(database: str, relation: str = "composes", **query: str
                ) -> tuple[int, list[dict[str, Any]]]:
    """The total the v1 list computes for `query` (as ctsd.api.listing does), and the
    plan nodes that read `relation`."""
    filters = MultiDict(query)
    counted = list_total(filters, "postgresql")
    if counted is None:
        counted = count_statement(
            select(composes.c.pk).where(*compose_conditions(filters, "postgresql")))
    sql = str(counted.compile(dialect=postgresql.dialect(),
                              compile_kwargs={"literal_binds": True})).replace("%%", "%")
    (plan,), = _rows(database, "EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
    plan = plan if isinstance(plan, list) else json.loads(plan)
    nodes = [node for node in _nodes(plan[0]["Plan"])
             if node.get("Relation Name") == relation]
    return int(_rows(database, sql)[0][0]), nodes


def _entries_read(node: dict[str, Any]) -> float:
    """Rows a scan node produced or threw away, over all its loops."""
    per_loop = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
    return float(per_loop * node["Actual Loops"])


def _seeded(pg_url: str) -> str:
    database = pg_url.rsplit("/", 1)[1]
    admin("INSERT INTO tags (id, name, description, documentation) "
          "VALUES (1, 'qa-passed', 'QE passed', 'https://docs')", database)
    grow(database, SIZE)
    return database


def test_release_short_contains_reads_only_matching_index_entries(pg_url):
    database = _seeded(pg_url)
    expected = _rows(database, "SELECT count(*), count(DISTINCT release_short) "
                               "FROM composes WHERE release_short LIKE '%d20%'")[0]
    distinct = _rows(database, "SELECT count(DISTINCT release_short) FROM composes")[0][0]
    total, nodes = _count_plan(database, release_short_contains="d20")
    assert total == expected[0] == SIZE // 40
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan"]
    # The matches, plus one index seek per distinct value; a LIKE over the whole index
    # (the plan before) reads all 2,000.
    assert sum(_entries_read(node) for node in nodes) <= total + distinct + 1



@pytest.mark.parametrize(("query", "where"), [
    ({}, "true"),
    ({"date_after": "20200101"}, "date > '20200101'"),
    ({"date_after": "20200101", "date_before": "20200103", "per_page": "20"},
     "date > '20200101' AND date < '20200103'"),
])
def test_totals_by_date_sum_the_counts_and_never_read_composes(pg_url, query, where):
    database = _seeded(pg_url)
    expected = _rows(database, f"SELECT count(*) FROM composes WHERE {where}")[0][0]
    total, nodes = _count_plan(database, **query)
    assert total == expected > 0
    assert nodes == []
    _, summed = _count_plan(database, "compose_date_counts", **query)
    assert summed, "the total is not from compose_date_counts"
