"""The smoke version of bench/query_scale_bench.py: on 2,000 seeded composes, the
latest, neighbour and keyset statements read composes and compose_tags through indexes
(PostgreSQL only; the full benchmark runs the same checks at 1,000,000)."""

from __future__ import annotations

from bench.query_scale_bench import grow
from bench.query_scale_plans import check_plans
from bench.run_bench import admin


def test_query_plans_use_indexes_and_never_scan_big_tables(pg_url):
    database = pg_url.rsplit("/", 1)[1]
    admin("INSERT INTO tags (id, name, description, documentation) "
          "VALUES (1, 'qa-passed', 'QE passed', 'https://docs')", database)
    grow(database, 2000)
    plans = check_plans(database, 2000)
    assert set(plans) == {"latest_stream", "latest_any", "keyset_deep", "keyset_filtered",
                          "neighbours_previous", "neighbours_next"}
    for name, plan in plans.items():
        assert plan["uses_indexes"], (name, plan)
    assert "ix_composes_stream" in plans["latest_stream"]["indexes"]
    assert "ix_composes_stream" in plans["neighbours_next"]["indexes"]
    assert "ix_composes_date_compose_id" in plans["keyset_deep"]["indexes"]
