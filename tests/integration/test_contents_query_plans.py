"""The plans of the contents queries on PostgreSQL, in the style of test_query_plans.py:
on 2,000 seeded composes with rpm id lists, "composes containing an NVR" (with
type=nightly&tag=-removed, its page and its COUNT) and a package's history find the
composes through cts_composes_holding (migration 0014) and never read a contents table
whole, and that function's statement, with the settings it runs under, probes the GIN
index on compose_rpm_ids.rpm_ids. Seen failing: a plain `rpm_ids && ...` in the
history's LATERAL is planned as a sequential scan of compose_rpm_ids detoasting every
array (2.9 s at the benchmark's 200 composes)."""

from __future__ import annotations

import json
import re
from typing import Any

from multidict import MultiDict
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from bench.query_scale_bench import grow
from bench.query_scale_plans import _rows
from bench.run_bench import admin
from ctsd.api.keyset_listing import DEFAULT_ORDER
from ctsd.db.contents_history import history_statement
from ctsd.db.queries.compose_lists import page_statement
from ctsd.db.queries.filters import COMPOSE_FIELDS, compose_conditions, sort_keys
from ctsd.db.queries.seek import sort_keys_of
from ctsd.db.tables import composes

GIN = "ix_compose_rpm_ids_rpm_ids"
CONTENTS_TABLES = {"compose_rpm_ids", "compose_rpm_sets", "rpms", "composes"}
RPMS, SET_SIZE = 20_000, 600  # each rpm id is in ~120 of the 2,000 composes

# rpms: pkgN-1.V-1 (N = id % 2000, V = id / 2000), one row each. Id lists: one per
# compose, a window of 2 x SET_SIZE ids starting at a compose-dependent offset.
_SEED_CONTENTS = f"""
INSERT INTO rpms (id, digest, name, epoch, version, release, arch, sigkey, category,
                  srpm_name, srpm_epoch, srpm_version, srpm_release, path)
SELECT g, decode(md5(g::text), 'hex'), 'pkg' || (g % 2000), 0, '1.' || (g / 2000), '1',
       'x86_64', NULL, 'binary', 'pkg' || (g % 2000), 0, '1.' || (g / 2000), '1',
       'Packages/' || g || '.rpm'
FROM generate_series(1, {RPMS}) AS g;
INSERT INTO compose_rpm_ids (compose_pk, rpm_ids)
SELECT c.pk, ARRAY(SELECT (c.pk * 37 + i) % {RPMS} + 1
                   FROM generate_series(0, {2 * SET_SIZE - 1}) AS i ORDER BY 1)
FROM composes c;
INSERT INTO tags (id, name, description, documentation)
VALUES (2, 'removed', 'gone', 'https://docs');
INSERT INTO compose_tags (compose_pk, tag_id) SELECT pk, 2 FROM composes WHERE pk % 10 = 5;
"""


def _sql(statement: Any) -> str:
    return str(statement.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"literal_binds": True}))


def _plan(database: str, statement: Any, settings: str = "") -> dict[str, Any]:
    sql = statement if isinstance(statement, str) else _sql(statement)
    rows = _rows(database, settings + "EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
    (plan,), = rows
    plan = plan if isinstance(plan, list) else json.loads(plan)
    nodes = list(_nodes(plan[0]["Plan"]))
    return {"indexes": {node["Index Name"] for node in nodes if "Index Name" in node},
            "functions": {node["Function Name"] for node in nodes
                          if node["Node Type"] == "Function Scan"},
            "seq_scans": {node["Relation Name"] for node in nodes
                          if node["Node Type"] == "Seq Scan"} & CONTENTS_TABLES,
            "rows": plan[0]["Plan"]["Actual Rows"]}


def _nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_contains_and_history_probe_the_gin_index(pg_url):
    database = pg_url.rsplit("/", 1)[1]
    admin("INSERT INTO tags (id, name, description, documentation) "
          "VALUES (1, 'qa-passed', 'QE passed', 'https://docs')", database)
    grow(database, 2000)
    admin(_SEED_CONTENTS, database)
    admin("VACUUM ANALYZE", database)
    query = MultiDict(rpm_nvr="pkg1234-1.3-1", type="nightly", tag="-removed")
    conditions = compose_conditions(query, "postgresql")
    keys = sort_keys_of(sort_keys(MultiDict(), COMPOSE_FIELDS, DEFAULT_ORDER, "id"),
                        COMPOSE_FIELDS)
    plans = {
        "contains_page": _plan(database, page_statement(conditions, keys, None, 21)),
        "contains_count": _plan(database, select(func.count()).select_from(
            select(composes.c.pk).where(*conditions).subquery())),
        "history": _plan(database, history_statement(
            "pkg1234", compose_conditions(MultiDict(type="nightly"), "postgresql"),
            "postgresql")),
    }
    for name, plan in plans.items():
        assert "cts_composes_holding" in plan["functions"], (name, plan)
        assert not plan["seq_scans"], (name, plan)
    assert GIN in _holding_plan(database)["indexes"]
    # The seeded data does match: the plans were checked on queries that find composes.
    assert plans["contains_page"]["rows"] > 0
    assert plans["history"]["rows"] > 0


def _holding_plan(database: str) -> dict[str, Any]:
    """The plan of cts_composes_holding's statement under the settings it declares."""
    (source, config), = _rows(database, "SELECT prosrc, proconfig FROM pg_proc "
                                        "WHERE proname = 'cts_composes_holding'")
    assert {"enable_seqscan=off", "enable_indexscan=off"} <= set(config)
    settings = "".join(f"SET {item.replace('=', ' = ', 1)}; " for item in config)
    return _plan(database, re.sub(r"\bids\b", "ARRAY[1234, 5678]", source), settings)
