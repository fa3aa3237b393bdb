"""Tracing off vs on, side by side: two `ctsd serve` on one seeded PostgreSQL database,
one with tracing off and one exporting every span over OTLP to a local sink
(bench/otlp_sink.py), measured in alternating short windows (the order flips every
round) so that outside load on a shared machine hits both alike.

    .venv/bin/python bench/tracing_ab.py -n 2000 --rounds 3 -d 5

With `--baseline-tree DIR` (a checkout of an older commit, e.g. from `git archive`) the
second server runs that tree's code with tracing off instead: what tracing costs when
it is off, against code without it (reported in the "on" column). Prints the median
req/s per scenario and target, every window with its calibration, and the spans the
sink received.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from run_bench import HARNESS, RESULTS, admin, free_port, wait_until_up

SCENARIOS = "get,list_filter,tag,create"


def start_server(database: str, env_extra: dict[str, str], workers: int,
                 tree: str | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CTSD_", "OTEL_"))},
           "CTSD_DATABASE_URL": f"postgresql://postgres@127.0.0.1/{database}", **env_extra}
    server = subprocess.Popen([sys.executable, "-m", "ctsd.cli", "serve", "--port", str(port),
                               "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              # `-m ctsd.cli` imports ctsd from the working directory first.
                              cwd=tree)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, server)
    return url, server


def harness(url: str, label: str, state: Path, out: Path, args: argparse.Namespace, *,
            scenarios: str) -> list[dict[str, Any]]:
    subprocess.run([sys.executable, str(HARNESS), "--url", url, "--label", label,
                    "-n", str(args.n), "-c", args.c, "-d", str(args.d), "-w", str(args.w),
                    "--state", str(state), "--scenarios", scenarios, "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return list(json.loads(out.read_text())["scenarios"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="composes to seed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-c", default="8", help="concurrency levels")
    parser.add_argument("-d", type=int, default=5, help="measured seconds per window")
    parser.add_argument("-w", type=int, default=1, help="warm-up seconds per window")
    parser.add_argument("--workers", type=int, default=1, help="workers per server")
    parser.add_argument("--baseline-tree", help="second server: this tree, tracing off")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    database = f"cts_bench_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{database}"')
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, str(Path(__file__).with_name("otlp_sink.py")),
                             "--port", str(sink_port)], stdout=subprocess.PIPE, text=True)
    processes: list[subprocess.Popen[Any]] = [sink]
    windows: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
    try:
        off_url, off = start_server(database, {}, args.workers)
        processes.append(off)
        on_url, on = start_server(database, {} if args.baseline_tree else {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}, args.workers,
            args.baseline_tree)
        processes.append(on)
        state = RESULTS / f"ab-state-{stamp}.json"
        harness(off_url, "seed", state, RESULTS / f"ab-seed-{stamp}.json", args,
                scenarios="seed")
        admin("VACUUM ANALYZE", database)
        for round_no in range(args.rounds):
            order = [("off", off_url), ("on", on_url)]
            for name, url in order if round_no % 2 == 0 else order[::-1]:
                out = RESULTS / f"ab-{name}-{round_no}-{stamp}.json"
                _record(windows[name], round_no, name,
                        harness(url, f"tracing-{name}", state, out, args, scenarios=SCENARIOS))
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print((sink.stdout.read() if sink.stdout else "").strip())
    _summary(windows)


def _record(windows: dict[str, list[float]], round_no: int, name: str,
            results: list[dict[str, Any]]) -> None:
    for result in results:
        key = f"{result['scenario']} c={result['concurrency']}"
        windows.setdefault(key, []).append(result["rps"])
        print(f"round {round_no} {name:3} {key:16} {result['rps']:8.1f} req/s "
              f"calib {result['extra'].get('calibration_ms')} ms", flush=True)


def _summary(windows: dict[str, dict[str, list[float]]]) -> None:
    print(f"{'scenario':18} {'off req/s':>10} {'on req/s':>10} {'on/off':>7}  (medians)")
    for key, off_rps in windows["off"].items():
        off_median = statistics.median(off_rps)
        on_median = statistics.median(windows["on"][key])
        print(f"{key:18} {off_median:10.1f} {on_median:10.1f} {on_median / off_median:7.2f}")


if __name__ == "__main__":
    main()
