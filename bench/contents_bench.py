"""Benchmark compose contents on PostgreSQL (issue #12): seed N composes of several
streams straight into a fresh database (bench/contents_data.py, the real storage
format), then time over HTTP against `ctsd serve`: importing one compose's rpms.json
(~50,000 entries), composes containing an NVR (type=nightly&tag=-removed), the diff of
two consecutive composes, a rpms page and a package's history; and report database
bytes per compose and the server's peak RSS.

    .venv/bin/python bench/contents_bench.py --composes 200 [--requests 200] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contents_data import (
    ARCHES,
    STREAMS,
    VARIANTS,
    Seeder,
    Stream,
    compose_row,
    id_list_copy_line,
    rpms_json,
    set_copy_lines,
)
from run_bench import admin, free_port, peak_memory_mb, wait_until_up

from ctsd.config import Settings
from ctsd.db import migrate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG = "postgresql://postgres@127.0.0.1:5432"
CONTENTS_TABLES = ("rpms", "compose_rpm_sets", "compose_rpm_ids", "compose_contents",
                   "compose_variant_arches")
_GIN = "ix_compose_rpm_ids_rpm_ids"


def calibrate() -> float | None:
    for candidate in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        path = candidate / "bench" / "ctsbench.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("ctsbench", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return float(module.calibrate())
    return None


def seed(conn: Any, total: int, *,
         write: bool = True) -> tuple[Seeder, list[Stream], dict[int, list[str]]]:
    """`total` nightlies over the streams (consecutive days), tag 'removed' on a tenth.
    write=False replays the same (deterministic) streams in memory only, for --reuse."""
    seeder, streams, ids = Seeder(), [], {}
    per_stream = max(total // len(STREAMS), 1)
    cur = conn.cursor()
    if not write:
        return _replay(seeder, per_stream)
    # Bulk load as one should: the GIN index is built after the sets are in (it has no
    # pending list, so row by row it would take minutes longer at 2,000 composes).
    cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (_GIN,))
    gin_definition = cur.fetchone()[0]
    cur.execute(f"DROP INDEX {_GIN}")
    cur.execute("INSERT INTO tags (name, description, documentation) VALUES "
                "('removed', 'bench', 'bench') RETURNING id")
    removed_tag = cur.fetchone()[0]
    for number, (short, version, dist) in enumerate(STREAMS):
        stream = seeder.new_stream(short, version, dist, seed=number)
        streams.append(stream)
        ids[number] = []
        sets = []
        for day in range(per_stream):
            if day:
                seeder.next_nightly(stream)
            pk, compose_id = _insert_compose(cur, stream, day)
            ids[number].append(compose_id)
            sets.append((set_copy_lines(pk, stream), id_list_copy_line(pk, stream)))
            if day % 10 == 5:
                cur.execute("INSERT INTO compose_tags VALUES (%s, %s)", (pk, removed_tag))
            if len(sets) >= 25:
                _flush(cur, seeder, sets)
        _flush(cur, seeder, sets)
        conn.commit()
        print(f"seeded {short}-{version}: {per_stream} composes", flush=True)
    cur.execute(gin_definition)
    conn.commit()
    return seeder, streams, ids


def _replay(seeder: Seeder, per_stream: int) -> tuple[Seeder, list[Stream],
                                                    dict[int, list[str]]]:
    streams, ids = [], {}
    for number, (short, version, dist) in enumerate(STREAMS):
        stream = seeder.new_stream(short, version, dist, seed=number)
        ids[number] = []
        for day in range(per_stream):
            if day:
                seeder.next_nightly(stream)
            ids[number].append(compose_row(stream, _date(day))[0])
            seeder.take_rpm_rows()
        streams.append(stream)
    return seeder, streams, ids


def _date(day: int) -> str:
    return time.strftime("%Y%m%d", time.gmtime(1735689600 + day * 86400))


def _insert_compose(cur: Any, stream: Stream, day: int) -> tuple[int, str]:
    compose_id, columns, info = compose_row(stream, _date(day))
    values = {**columns, "builder": "bench", "compose_info": info}
    names = ", ".join(values)
    cur.execute(f"INSERT INTO composes ({names}, created_at) VALUES "
                f"({', '.join(['%s'] * len(values))}, now()) RETURNING pk",
                list(values.values()))
    pk = cur.fetchone()[0]
    psycopg2.extras.execute_values(
        cur, "INSERT INTO compose_variant_arches VALUES %s",
        [(pk, variant, arch) for variant in VARIANTS for arch in ARCHES])
    cur.execute("INSERT INTO compose_contents VALUES (%s, 'rpms', %s, %s, now(), 'bench')",
                (pk, f"seed-{pk}", 0))
    return pk, compose_id


def _flush(cur: Any, seeder: Seeder, sets: list[tuple[str, str]]) -> None:
    cur.copy_expert("COPY rpms FROM STDIN", _Reader(seeder.take_rpm_rows()))
    cur.copy_expert("COPY compose_rpm_sets FROM STDIN", _Reader("".join(s for s, _ in sets)))
    cur.copy_expert("COPY compose_rpm_ids FROM STDIN", _Reader("".join(i for _, i in sets)))
    sets.clear()


class _Reader:
    def __init__(self, text: str) -> None:
        self._data, self._at = text.encode(), 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk, self._at = self._data[self._at:end], min(end, len(self._data))
        return chunk

    readline = read


def contents_bytes(conn: Any) -> int:
    cur = conn.cursor()
    cur.execute("SELECT sum(pg_total_relation_size(c)) FROM unnest(%s::regclass[]) c",
                (list(CONTENTS_TABLES),))
    return int(cur.fetchone()[0])


def timed(base: str, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=60) as response:  # 127.0.0.1 only
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
            "n": len(ordered)}


def request(method: str, url: str, body: bytes, headers: dict[str, str]) -> Any:
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=120) as response:  # 127.0.0.1 only
        return json.loads(response.read())


def import_one(base: str, seeder: Seeder, stream: Stream, day: int) -> dict[str, Any]:
    """The stream's next nightly: POST it, then PUT its rpms.json (gzip) and time that."""
    seeder.next_nightly(stream)
    compose_id, _columns, info = compose_row(stream, _date(day))
    request("POST", f"{base}/api/1/composes/",
            json.dumps({"compose_info": json.loads(info)}).encode(),
            {"Content-Type": "application/json"})
    document = json.dumps(rpms_json(stream, compose_id)).encode()
    body = gzip.compress(document, 6)
    started = time.perf_counter()
    answer = request("PUT", f"{base}/api/1/composes/{compose_id}/rpms", body,
                     {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    elapsed = time.perf_counter() - started
    return {"compose_id": compose_id, "entries": answer["count"], "seconds": round(elapsed, 3),
            "json_mb": round(len(document) / 2**20, 1), "gzip_mb": round(len(body) / 2**20, 1)}


def measure(base: str, streams: list[Stream], ids: dict[int, list[str]],
            requests: int) -> dict[str, Any]:
    rng = streams[0].rng
    contains = []
    for _ in range(requests):
        number = rng.randrange(len(streams))
        stream = streams[number]
        i = rng.randrange(len(stream.releases))
        nvr = stream.nvr(i, rng.randint(1, stream.releases[i]))
        contains.append(f"/api/1/composes/?rpm_nvr={nvr}&type=nightly&tag=-removed")
    diffs = [f"/api/1/composes/{ids[n][d]}/diff/{ids[n][d + 1]}"
             for n in ids for d in range(min(len(ids[n]) - 1, 8))]
    pages = [f"/api/1/composes/{rng.choice(ids[0])}/rpms/?per_page=20&page="
             f"{rng.randint(1, 2500)}" for _ in range(requests)]
    history = [f"/api/1/rpms/pkg{rng.randrange(5400):05d}/?release_short=rhel&type=nightly"
               for _ in range(20)]
    return {name: summary(timed(base, paths)) for name, paths in (
        ("contains_nvr", contains), ("diff_consecutive", diffs), ("rpms_page", pages),
        ("package_history", history))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--composes", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", metavar="DATABASE",
                        help="measure a database seeded (and kept) by an earlier run")
    args = parser.parse_args()
    database = args.reuse or f"cts_contents_bench_{uuid.uuid4().hex[:8]}"
    if not args.reuse:
        admin(f'CREATE DATABASE "{database}"')
    url = f"{PG}/{database}"
    server = None
    try:
        migrate.upgrade(Settings(database_url=url))
        conn = psycopg2.connect(f"host=127.0.0.1 user=postgres dbname={database}")
        empty = 0 if args.reuse else contents_bytes(conn)
        started = time.monotonic()
        seeder, streams, ids = seed(conn, args.composes, write=not args.reuse)
        seeded_in = time.monotonic() - started
        conn.autocommit = True
        # The ids were given by COPY: move the sequence past them for the server's inserts.
        conn.cursor().execute("SELECT setval('rpms_id_seq', (SELECT max(id) FROM rpms))")
        conn.cursor().execute("VACUUM ANALYZE")
        total = sum(len(v) for v in ids.values())
        per_compose = (contents_bytes(conn) - empty) / total
        result: dict[str, Any] = {"composes": total, "seed_seconds": round(seeded_in, 1),
                                  "contents_bytes_per_compose": round(per_compose),
                                  "calibration_ms_before": calibrate()}
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "ctsd.cli", "serve", "--port", str(port)],
            env={"CTSD_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}, cwd=ROOT)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        result["queries"] = measure(base, streams, ids, args.requests)
        result["import_next_nightly"] = import_one(base, seeder, streams[0], len(ids[0]))
        result["import_again_next_nightly"] = import_one(base, seeder, streams[0],
                                                         len(ids[0]) + 1)
        result["server_peak_rss_mb"] = peak_memory_mb(server.pid)
        result["calibration_ms_after"] = calibrate()
        print(json.dumps(result, indent=2))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"contents-{total}-{int(time.time())}.json").write_text(json.dumps(result))
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if not args.keep and not args.reuse:
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
