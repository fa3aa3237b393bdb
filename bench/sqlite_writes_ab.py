"""Tag and create latency on the SQLite default, two source trees alternated (issue #14).

Each round runs every tree in turn: a fresh SQLite file, one `ctsd serve` process of that
tree (this venv's Python with PYTHONPATH=<tree>), the shared harness seeds N composes,
then runs tag and create at c=8. The harness's rows (p50/p99/max, req/s, its CPU, calib)
are printed per round and tree, with the seconds the server's event loop thread ran on a
CPU and waited for one during each run, and the WAL file's largest size seen. Only figures from
one invocation compare: this shared machine's speed moves by 2x from hour to hour.

    git worktree add --detach /tmp/base <commit>
    .venv/bin/python bench/sqlite_writes_ab.py --tree old=/tmp/base --tree new=. [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(os.environ.get("CTS_BENCH_HARNESS",
                              ROOT.parent / "shared" / "bench" / "ctsbench.py"))
if not HARNESS.exists():
    HARNESS = Path("/work/shared/bench/ctsbench.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"ctsd serve exited with {server.returncode}")
        try:
            urllib.request.urlopen(url + "/api/1/about/", timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("ctsd serve did not answer in 60 s")


def cpu_times(pid: int) -> tuple[float, float]:
    """Seconds the server's main (event loop) thread has run on a CPU, and has waited
    runnable for one (/proc/PID/schedstat): on a shared machine the second is latency
    the server's code does not cause."""
    ran, waited, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(ran) / 1e9, int(waited) / 1e9


def largest_wal(path: Path, stop: threading.Event, seen: list[int]) -> None:
    while not stop.wait(0.5):
        with contextlib.suppress(OSError):  # not there until the first write
            seen.append(path.stat().st_size)


def run_tree(tree: Path, args: argparse.Namespace, workdir: Path) -> list[str]:
    database = workdir / "x.sqlite"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(tree),
           "CTSD_DATABASE_URL": f"sqlite:///{database}"}
    # Run from the work directory: `python -m` puts the current directory first on
    # sys.path, before PYTHONPATH, and a checkout there would win over the tree.
    source = subprocess.run([sys.executable, "-c", "import ctsd; print(ctsd.__file__)"],
                            env=env, cwd=workdir, check=True, capture_output=True,
                            text=True).stdout.strip()
    if not source.startswith(str(tree)):
        raise SystemExit(f"{tree}: ctsd is imported from {source}")
    with open(workdir / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "ctsd.cli", "serve", "--port",
                                   str(port)], env=env, cwd=workdir, stdout=log, stderr=log)
    stop, wal_sizes = threading.Event(), [0]
    watcher = threading.Thread(target=largest_wal,
                               args=(Path(f"{database}-wal"), stop, wal_sizes))
    try:
        wait_until_up(url, server)
        watcher.start()
        harness = [sys.executable, str(HARNESS), "--url", url, "--state",
                   str(workdir / "state.json"), "--server-pid", str(server.pid)]
        subprocess.run([*harness, "-n", str(args.n), "--scenarios", "seed",
                        "--out", str(workdir / "seed.json")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = []
        for scenario in ("tag", "create"):
            before = cpu_times(server.pid)
            table = subprocess.run(
                [*harness, "--scenarios", scenario, "-c", "8", "-d", str(args.d),
                 "-w", str(args.w), "--out", str(workdir / f"{scenario}.json")],
                check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True).stdout
            ran, waited = (after - then for after, then in
                           zip(cpu_times(server.pid), before, strict=True))
            rows += [f"{line}  loop_cpu_s={ran:.1f} loop_cpu_wait_s={waited:.1f}"
                     for line in table.splitlines() if line.split()[:1] == [scenario]]
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
        server.terminate()
        server.wait(timeout=60)
    return [f"{row}  wal_max_MB={max(wal_sizes) / 1e6:.0f}" for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", required=True,
                        help="LABEL=PATH of a source tree (repeat; run in this order)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-n", type=int, default=2000, help="composes to seed")
    parser.add_argument("-d", type=float, default=15, help="measured seconds")
    parser.add_argument("-w", type=float, default=3, help="warm-up seconds")
    args = parser.parse_args()
    trees = [(label, Path(path).resolve()) for label, _, path in
             (tree.partition("=") for tree in args.tree)]
    print("round tree  scenario  c     n   req/s  p50 ms  p99 ms  max ms  err  bad  "
          "gen%  mach%  srv%  calib")
    for round_number in range(1, args.rounds + 1):
        for label, tree in trees:
            with tempfile.TemporaryDirectory(prefix=f"sqlite-ab-{label}-") as workdir:
                for row in run_tree(tree, args, Path(workdir)):
                    print(f"{round_number:>5} {label:<5} {row}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
