"""Do the query extensions stay fast at 1,000,000 composes? (issue #5, part 2)

Seeds composes straight into a throw-away PostgreSQL database with generate_series (1M
HTTP imports would take hours and measure the import path, not the queries), runs
VACUUM ANALYZE (autovacuum is off on the development machine), starts a real
`ctsd serve` and times sequential HTTP requests per scenario (median and p95), at each
size in its own database, with one server per size and their requests interleaved (the
machine is shared: interleaving makes outside load hit every size alike). It also
EXPLAINs the statements the server runs and fails if a plan reads composes or
compose_tags without an index.

    .venv/bin/python bench/query_scale_bench.py [--sizes 10000,1000000] [--requests 300]
                                                [--keep-database]

Passes when every scenario's median at the largest size is within 2x of the smallest.
Results go to bench/results/query_scale-<time>.json (not committed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import query_scale_plans as plans
from bench.query_scale_server import running_ctsd
from bench.run_bench import PG_DSN, RESULTS, admin, free_port
from ctsd.config import Settings
from ctsd.db import migrate

STREAMS = 800  # 40 release shorts x 5 versions x 4 compose types
TYPES = [("production", ""), ("nightly", ".n"), ("test", ".t"), ("ci", ".ci")]
MAX_RATIO = 2.0

# Composes in stream s = i % 800, the k-th (k = i / 800) of their stream: two respins a
# day, every 4th (k % 4 = 1) tagged qa-passed, half of those removed (k % 8 = 5).
_SEED = """
INSERT INTO composes (pk, compose_id, date, respin, type, label, final, release_name,
    release_short, release_version, release_version_key, release_is_layered, release_type,
    release_internal, builder, compose_info, created_at, removed_at)
SELECT i, cid, d, r, t, NULL, false, short, short, v, vkey, false, 'ga', false, 'bench',
    json_build_object(
        'header', json_build_object('type', 'productmd.composeinfo', 'version', '1.2'),
        'payload', json_build_object(
            'compose', json_build_object('id', cid, 'date', d, 'respin', r, 'type', t),
            'release', json_build_object('name', short, 'short', short, 'version', v,
                                         'is_layered', false, 'type', 'ga',
                                         'internal', false),
            'variants', json_build_object()))::text,
    now(), CASE WHEN k %% 8 = 5 THEN now() END
FROM (
    SELECT i, k, short, v, vkey, t, d, r,
           short || '-' || v || '-' || d || suffix || '.' || r AS cid
    FROM (
        SELECT i, i / %(streams)s AS k,
               'prod' || ((i %% %(streams)s) %% 40) AS short,
               (((i %% %(streams)s) / 40) %% 5 + 1)::text || '.0' AS v,
               lpad((((i %% %(streams)s) / 40) %% 5 + 1)::text, 12, '0') || '.'
                   || lpad('0', 12, '0') AS vkey,
               (ARRAY%(types)s)[((i %% %(streams)s) / 200) %% 4 + 1] AS t,
               (ARRAY%(suffixes)s)[((i %% %(streams)s) / 200) %% 4 + 1] AS suffix,
               to_char(date '2020-01-01' + ((i / %(streams)s) / 2), 'YYYYMMDD') AS d,
               (i / %(streams)s) %% 2 AS r
        FROM generate_series(%(low)s, %(high)s) AS i
    ) AS numbered
) AS rows
"""
_TAG = """
INSERT INTO compose_tags (compose_pk, tag_id)
SELECT pk, %(tag)s FROM composes
WHERE pk BETWEEN %(low)s AND %(high)s AND (pk / %(streams)s) %% 4 = 1
"""


def create_database() -> str:
    name = f"cts_query_bench_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    migrate.upgrade(Settings(database_url=url))
    admin("INSERT INTO tags (id, name, description, documentation) "
          "VALUES (1, 'qa-passed', 'QE passed', 'https://docs')", name)
    return name


def grow(database: str, size: int) -> float:
    """Add composes 1 .. size in chunks, then VACUUM ANALYZE; returns the seconds taken."""
    started = time.monotonic()
    conn = psycopg2.connect(PG_DSN.replace("dbname=postgres", f"dbname={database}"))
    types = "[" + ",".join(f"'{t}'" for t, _ in TYPES) + "]"
    suffixes = "[" + ",".join(f"'{s}'" for _, s in TYPES) + "]"
    for low in range(1, size + 1, 200_000):
        high = min(size, low + 199_999)
        with conn, conn.cursor() as cur:
            params = {"low": low, "high": high, "streams": STREAMS, "tag": 1}
            cur.execute(_SEED % {**{k: int(v) for k, v in params.items()},
                                 "types": types, "suffixes": suffixes})
            cur.execute(_TAG, params)
        print(f"  seeded {high:,} composes", flush=True)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT setval('composes_pk_seq', %s)", (size,))
    conn.close()
    admin("VACUUM ANALYZE", database)
    return time.monotonic() - started


Request = Callable[[random.Random], str]


def scenarios(database: str, size: int) -> dict[str, Request]:
    """Each scenario makes the path (with query) of one request from a random source."""
    def stream(rng: random.Random) -> tuple[str, str]:
        return f"prod{rng.randrange(40)}", f"{rng.randrange(5) + 1}.0"

    def latest_stream(rng: random.Random) -> str:
        short, version = stream(rng)
        return (f"/api/1/composes/latest/?release_short={short}&release_version={version}"
                "&type=nightly&tag=qa-passed&removed=false")

    def latest_any(_rng: random.Random) -> str:
        return "/api/1/composes/latest/?tag=qa-passed&removed=false"

    deep = plans.deep_cursors(database, size, 200)
    filtered = plans.deep_cursors(database, size, 200, release_short="prod7")

    def keyset_deep(rng: random.Random) -> str:
        return f"/api/1/composes/?cursor={rng.choice(deep)}&per_page=20"

    def keyset_filtered(rng: random.Random) -> str:
        return f"/api/1/composes/?release_short=prod7&cursor={rng.choice(filtered)}&per_page=20"

    compose_ids = plans.random_compose_ids(database, size, 500)

    def neighbours(rng: random.Random) -> str:
        return f"/api/1/composes/{rng.choice(compose_ids)}/neighbours/"

    return {"latest_stream": latest_stream, "latest_any": latest_any,
            "keyset_deep": keyset_deep, "keyset_filtered": keyset_filtered,
            "neighbours": neighbours}


def measure(servers: dict[int, str], paths: dict[int, list[str]]) -> dict[int, Any]:
    """Time the same scenario on every size, alternating request by request, so that
    load from elsewhere on the (shared) machine hits every size alike."""
    sessions = {size: requests.Session() for size in servers}
    latencies: dict[int, list[float]] = {size: [] for size in servers}
    for index in range(-20, len(next(iter(paths.values())))):
        for size, base_url in servers.items():
            path = paths[size][max(index, 0)]
            started = time.perf_counter()
            response = sessions[size].get(base_url + path, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                sys.exit(f"{path}: {response.status_code} {response.text[:300]}")
            if index >= 0:  # the first 20 warm caches and PostgreSQL's buffers
                latencies[size].append(elapsed)
    return {size: _summary(values) for size, values in latencies.items()}


def _summary(latencies: list[float]) -> dict[str, float]:
    latencies = sorted(latencies)
    return {"median_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
            "requests": len(latencies)}


def run_all(databases: dict[int, str], count: int) -> dict[int, dict[str, Any]]:
    paths: dict[str, dict[int, list[str]]] = {}
    for size, database in databases.items():
        rng = random.Random(size)
        for name, make in scenarios(database, size).items():
            paths.setdefault(name, {})[size] = [make(rng) for _ in range(count)]
    with contextlib.ExitStack() as stack:
        servers = {size: stack.enter_context(running_ctsd(
            f"postgresql://postgres@127.0.0.1:5432/{database}", free_port()))
            for size, database in databases.items()}
        timings = {name: measure(servers, by_size) for name, by_size in paths.items()}
    return {size: {"timings": {name: timings[name][size] for name in timings},
                   "plans": plans.check_plans(database, size)}
            for size, database in databases.items()}


def report(results: dict[int, dict[str, Any]]) -> bool:
    sizes = sorted(results)
    small, large = results[sizes[0]], results[sizes[-1]]
    print(f"\n{'scenario':<16}" + "".join(f"{f'{s:,} med/p95 ms':>24}" for s in sizes)
          + f"{'ratio (median)':>16}")
    ok = True
    for name, first in small["timings"].items():
        ratio = large["timings"][name]["median_ms"] / first["median_ms"]
        ok &= ratio <= MAX_RATIO
        cells = "".join(f"{results[s]['timings'][name]['median_ms']:>14.2f} / "
                        f"{results[s]['timings'][name]['p95_ms']:<7.2f}" for s in sizes)
        print(f"{name:<16}{cells}{ratio:>15.2f}x")
    for size in sizes:
        for name, plan in results[size]["plans"].items():
            ok &= plan["uses_indexes"]
            print(f"plan {size:>9,} {name:<16} indexes={plan['indexes']} "
                  f"seq_scans={plan['seq_scans']} {plan['execution_ms']} ms")
    print("PASS" if ok else f"FAIL: a median grew more than {MAX_RATIO}x or a plan "
          "scanned without an index")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    databases: dict[int, str] = {}
    try:
        for size in sizes:
            databases[size] = create_database()
            seconds = grow(databases[size], size)
            print(f"{databases[size]}: {size:,} composes seeded and analysed in "
                  f"{seconds:.0f} s", flush=True)
        results = run_all(databases, args.requests)
    finally:
        for database in databases.values():
            if not args.keep_database:
                admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    ok = report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"query_scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"sizes": sizes, "results": results, "pass": ok}, indent=2))
    print(f"results: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
