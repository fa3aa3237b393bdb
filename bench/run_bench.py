"""Benchmark ctsd on PostgreSQL with the shared HTTP harness (../shared/bench/ctsbench.py,
or the file CTS_BENCH_HARNESS names).

Creates a fresh PostgreSQL database, starts `ctsd serve` on it, seeds N composes and runs
the get / list_filter / list_deep / tag / create / collide scenarios, then prints the
harness's table plus each server process's peak memory (VmHWM). Results go to
bench/results/ (not committed). Figures on a shared 2-core machine are noisy: compare
runs made back to back, and read the harness's `calib` column.

    .venv/bin/python bench/run_bench.py [-n 10000] [--workers 2] [-c 1,8,32] [-d 15]
                                        [--no-vacuum]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
# The shared harness; from a worktree (/work/wt/<branch>) it is not beside the checkout,
# so CTS_BENCH_HARNESS (the path of ctsbench.py) overrides where it is looked for.
HARNESS = Path(os.environ.get("CTS_BENCH_HARNESS",
                              ROOT.parent / "shared" / "bench" / "ctsbench.py"))
RESULTS = ROOT / "bench" / "results"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def admin(sql: str, database: str = "postgres") -> None:
    conn = psycopg2.connect(PG_DSN.replace("dbname=postgres", f"dbname={database}"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def postmaster_pid() -> int:
    conn = psycopg2.connect(PG_DSN)
    with conn.cursor() as cur:
        cur.execute("SHOW data_directory")
        data_dir = cur.fetchone()[0]
    conn.close()
    return int(Path(data_dir, "postmaster.pid").read_text().split()[0])


def wait_until_up(url: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"ctsd exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/1/about/", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit("ctsd did not come up")


def peak_memory_mb(pid: int) -> dict[int, float]:
    """VmHWM (peak resident set) of the server and each of its worker processes."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    peaks = {}
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[each] = int(line.split()[1]) / 1024
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10000, help="composes to seed")
    parser.add_argument("--workers", type=int, default=2, help="ctsd serve --workers")
    parser.add_argument("-c", default="1,8,32", help="concurrency levels")
    parser.add_argument("-d", type=int, default=15, help="measured seconds per run")
    parser.add_argument("-w", type=int, default=3, help="warm-up seconds per run")
    parser.add_argument("--no-vacuum", action="store_true",
                        help="skip VACUUM ANALYZE between seeding and measuring")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    database = f"cts_bench_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{database}"')
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CTSD_DATABASE_URL": f"postgresql://postgres@127.0.0.1/{database}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "ctsd.cli", "serve", "--port", str(port),
         "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"ctsd-{args.n}-{stamp}.json"
    try:
        wait_until_up(url, server)
        common = [
            sys.executable, str(HARNESS), "--url", url, "--label", f"ctsd-w{args.workers}",
            "-n", str(args.n), "-c", args.c, "-d", str(args.d), "-w", str(args.w),
            "--state", str(RESULTS / f"state-{stamp}.json"),
            "--server-pid", str(server.pid), "--server-pid", str(postmaster_pid()),
        ]
        run([*common, "--scenarios", "seed", "--out", str(RESULTS / f"seed-{stamp}.json")])
        if not args.no_vacuum:
            # This machine's PostgreSQL runs with autovacuum off, so a freshly seeded
            # table has no statistics and no visibility map: the planner then sorts the
            # whole table for a deep page. A production server's autovacuum does this.
            print("$ VACUUM ANALYZE", flush=True)
            admin("VACUUM ANALYZE", database)
        run([*common, "--scenarios", "probe,get,list_filter,list_deep,tag,create,collide",
             "--out", str(out)])
        peaks = peak_memory_mb(server.pid)
        print("peak RSS MB per ctsd process:", json.dumps({str(k): round(v, 1)
                                                          for k, v in peaks.items()}))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(f"results: {out}")


if __name__ == "__main__":
    main()
