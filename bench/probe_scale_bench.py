"""Every v1 list request of the harness's `probe` set at scale (issue #14): <= 100 ms each.

Seeds composes straight into a throw-away PostgreSQL database (bench/query_scale_bench.py's
generate_series seed: 800 streams, two respins a day from 2020-01-01, every 4th compose
tagged qa-passed; plus 2% tagged `removed` as the harness seeds), VACUUM ANALYZE, starts
`ctsd serve` (one worker) and times each probe URL (the harness's own `probe_urls`, and
the issue's `date_after=20200101` worst case) sequentially: median and max of --repeat
requests after one warm-up, with `meta.total` checked against a COUNT in SQL.

    CTS_BENCH_HARNESS=/work/shared/bench/ctsbench.py \\
    .venv/bin/python bench/probe_scale_bench.py [--size 1000000] [--repeat 7]
        [--database NAME (an already seeded one; kept)] [--keep-database]

The calibration (ms of the harness's fixed CPU loop) is printed before and after.
Results go to bench/results/probe_scale-<time>.json (not committed). Exit status 1 when
a probe is slower than --limit-ms (100) or a total is wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import query_scale_bench as seeding
from bench.query_scale_server import running_ctsd
from bench.run_bench import HARNESS, PG_DSN, RESULTS, admin, free_port

_REMOVED_TAG = """
INSERT INTO tags (id, name, description, documentation)
VALUES (2, 'removed', 'removed', 'https://docs') ON CONFLICT DO NOTHING;
INSERT INTO compose_tags (compose_pk, tag_id)
SELECT pk, 2 FROM composes WHERE pk % 50 = 7 ON CONFLICT DO NOTHING;
SELECT setval('tags_id_seq', 2);
"""


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ctsbench", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed(size: int) -> str:
    database = seeding.create_database()
    seconds = seeding.grow(database, size)
    _sql(database, _REMOVED_TAG)
    admin("VACUUM ANALYZE", database)
    print(f"{database}: {size:,} composes seeded and analysed in {seconds:.0f} s", flush=True)
    return database


def _sql(database: str, statement: str, params: Any = None) -> Any:
    conn = psycopg2.connect(PG_DSN.replace("dbname=postgres", f"dbname={database}"))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def probe_paths(harness: ModuleType, database: str, pages: int) -> list[tuple[str, str]]:
    """The harness's probe URLs that list composes, for this database's data."""
    ids = [row[0] for row in _sql(database, "SELECT compose_id FROM composes "
                                  "WHERE pk % 997 = 0 ORDER BY pk")]
    size = _sql(database, "SELECT count(*) FROM composes")[0][0]
    state = {"releases": [f"prod{i}" for i in range(40)], "tags": ["qa-passed"],
             "ids": ids, "seeded_upto": size}
    listed = [(label, path) for label, path in harness.probe_urls(state, pages)
              if path.startswith(f"{harness.API}/composes/?")
              or path == f"{harness.API}/composes/"]
    return [*listed, ("list date_after=20200101 (issue)",
                      f"{harness.API}/composes/?date_after=20200101&per_page=20")]


def time_probe(session: requests.Session, url: str, repeat: int) -> dict[str, Any]:
    session.get(url, timeout=120)  # warm-up: caches, buffers, the plan
    latencies, total = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        response = session.get(url, timeout=120)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url}: {response.status_code} {response.text[:300]}")
        total = response.json()["meta"]["total"]
    return {"median_ms": round(statistics.median(latencies), 1),
            "max_ms": round(max(latencies), 1), "meta_total": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--limit-ms", type=float, default=100.0)
    parser.add_argument("--database", help="an already seeded database (kept)")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    harness = load_harness()
    database = args.database or seed(args.size)
    try:
        rows, calibration = run(harness, database, args.repeat)
    finally:
        if not (args.database or args.keep_database):
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return report(rows, calibration, database, args.limit_ms)


def run(harness: ModuleType, database: str, repeat: int
        ) -> tuple[list[dict[str, Any]], list[float]]:
    calibration = [harness.calibrate()]
    truth = dict(_sql(database, _TRUTH))
    with running_ctsd(f"postgresql://postgres@127.0.0.1:5432/{database}",
                      free_port()) as base_url, requests.Session() as session:
        pages = session.get(f"{base_url}/api/1/composes/", timeout=120).json()["meta"]["pages"]
        rows = []
        for label, path in probe_paths(harness, database, pages):
            row = {"label": label, "path": path,
                   **time_probe(session, base_url + path, repeat)}
            row["expected_total"] = truth.get(label)
            rows.append(row)
            print(f"  {label:36s} median {row['median_ms']:>8} ms  max {row['max_ms']:>8} ms"
                  f"  total {row['meta_total']}", flush=True)
    calibration.append(harness.calibrate())
    print(f"schema revision {_sql(database, 'SELECT version_num FROM alembic_version')[0][0]}, "
          f"code {_commit()}", flush=True)
    return rows, calibration


def _commit() -> str:
    """The checkout's commit (and "+changes" when it has uncommitted ones): a before/after
    pair of runs is only as good as knowing which code each measured."""
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False).stdout.strip() or "unknown"
    dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return head + ("+changes" if dirty else "")


# Exact totals computed independently of ctsd's SQL, for the probes whose filter is
# simple to restate; the others are checked for being a number.
_TRUTH = """
SELECT 'list page 1 (default, COUNT all)', count(*) FROM composes
UNION ALL SELECT 'list untagged (tag=)', count(*) FROM composes c
    WHERE NOT EXISTS (SELECT FROM compose_tags t WHERE t.compose_pk = c.pk)
UNION ALL SELECT 'list not removed', count(*) FROM composes c
    WHERE NOT EXISTS (SELECT FROM compose_tags t WHERE t.compose_pk = c.pk
                                                  AND t.tag_id = 2)
UNION ALL SELECT 'list tag only', count(*) FROM compose_tags WHERE tag_id = 1
UNION ALL SELECT 'list release_short', count(*) FROM composes WHERE release_short = 'prod20'
UNION ALL SELECT 'list filter (list_filter URL)', count(*) FROM composes c
    WHERE release_short = 'prod20'
      AND EXISTS (SELECT FROM compose_tags t WHERE t.compose_pk = c.pk AND t.tag_id = 1)
      AND NOT EXISTS (SELECT FROM compose_tags t WHERE t.compose_pk = c.pk AND t.tag_id = 2)
UNION ALL SELECT 'list date_after=20200101 (issue)', count(*) FROM composes
    WHERE date > '20200101'
"""


def report(rows: list[dict[str, Any]], calibration: list[float], database: str,
           limit_ms: float) -> int:
    slow = [row["label"] for row in rows if row["median_ms"] > limit_ms]
    wrong = [row["label"] for row in rows
             if not isinstance(row["meta_total"], int)
             or row["expected_total"] not in (None, row["meta_total"])]
    print(f"calibration start/end {calibration[0]}/{calibration[1]} ms; database {database}")
    print(f"slower than {limit_ms} ms: {slow or 'none'}; wrong totals: {wrong or 'none'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"probe_scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"rows": rows, "calibration_ms": calibration,
                               "slow": slow, "wrong": wrong}, indent=1))
    print(f"results: {out}")
    return 1 if slow or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
