"""The existing CTS and ctsd side by side, in one invocation (issue #14).

Only ratios from one invocation mean anything on this shared machine (its speed moves 2x
from hour to hour), so every figure is printed beside the calibration of its own run.

Two modes:

* default: the procedure of the shared `side-by-side.sh` (reference, ctsd, reference,
  ctsd, ...: fresh PostgreSQL database each, seed N, VACUUM ANALYZE, then the timed
  scenarios), with the rounds, N, scenarios, concurrency, duration and the `ctsd serve`
  arguments as options, on free ports and databases of unique names so that it can run
  beside other people's benchmarks;
* `--shared-script`: runs `side-by-side.sh` itself from the project root (its fixed
  ports 5005/5006, databases refbench/ctsdbench and scenarios; rounds, N and the ctsd
  arguments passed through).

Both end with the harness's compare table per round (ratios ctsd/reference) and the
calibration (ms of a fixed CPU loop; higher = the machine was slower) of every run.

    .venv/bin/python bench/side_by_side.py [--rounds 2] [-n 10000] [-c 1,8,32]
        [--scenarios probe,get,list_filter,list_deep,tag,create,collide] [-d 15] [-w 3]
        [--ctsd-args "--workers 2"] [--out DIR] [--shared-script]

The harness is ../shared/bench/ctsbench.py beside the checkout or the file named by
CTS_BENCH_HARNESS; reference-up.sh and side-by-side.sh are taken from its directory.
CTS_REFERENCE_SRC (default: the mirror /work/.mirror/release-engineering+cts/repo) is
the existing CTS's source; reference-up.sh builds it once into $REF (default /tmp/refcts).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_bench import HARNESS, RESULTS, ROOT, admin, free_port, postmaster_pid, wait_until_up

REFERENCE_UP = HARNESS.parent / "reference-up.sh"
SHARED_SCRIPT = HARNESS.parent / "side-by-side.sh"
DEFAULT_REFERENCE_SRC = "/work/.mirror/release-engineering+cts/repo"
TIMED = "probe,get,list_filter,list_deep,tag,create,collide"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-n", type=int, default=10000, help="composes seeded on each")
    parser.add_argument("-c", default="1,8,32", help="concurrency levels")
    parser.add_argument("--scenarios", default=TIMED, help="after seed and VACUUM ANALYZE")
    parser.add_argument("-d", type=float, default=15, help="measured seconds per run")
    parser.add_argument("-w", type=float, default=3, help="warm-up seconds per run")
    parser.add_argument("--ctsd-args", default="--workers 2", help="for `ctsd serve`")
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/...")
    parser.add_argument("--shared-script", action="store_true",
                        help="run side-by-side.sh itself (fixed ports and scenarios)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = RESULTS / f"side-by-side-{time.strftime('%Y%m%d-%H%M%S')}"
    return args


def harness_python() -> str:
    """The harness's own venv (uvloop), as side-by-side.sh makes it; created if missing."""
    venv = Path(os.environ.get("BENCHVENV", Path(os.environ.get("TMPDIR", "/tmp"),
                                                  "benchvenv")))
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "uvloop"], check=True)
    return str(venv / "bin" / "python")


def reference_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CTS_REFERENCE_SRC", DEFAULT_REFERENCE_SRC)
    return env


def measure(args: argparse.Namespace, label: str, url: str, pids: list[int],
            database: str) -> None:
    """seed N, VACUUM ANALYZE, then the timed scenarios: side-by-side.sh's `measure`."""
    state = args.out / f"{label}-state.json"
    common = [harness_python(), str(HARNESS), "--url", url, "--label", label,
              "-n", str(args.n), "--state", str(state)]
    for pid in pids:
        common += ["--server-pid", str(pid)]
    _logged([*common, "--scenarios", "seed", "--out", str(args.out / f"{label}-seed.json")],
            args.out / f"{label}-seed.txt")
    admin("VACUUM ANALYZE", database)
    _logged([*common, "-c", args.c, "-d", str(args.d), "-w", str(args.w),
             "--scenarios", args.scenarios, "--out", str(args.out / f"{label}.json")],
            args.out / f"{label}.txt")


def _logged(command: list[str], log: Path) -> None:
    print("$", shlex.join(command), ">", log, flush=True)
    with open(log, "wb") as out:
        status = subprocess.run(command, check=False, stdout=out,
                                stderr=subprocess.STDOUT).returncode
    if status != 0:  # like side-by-side.sh: one failed run does not end the comparison
        print(f"  exit status {status}; see {log}", flush=True)


@contextmanager
def reference_server(database: str) -> Iterator[tuple[str, int]]:
    """The existing CTS (gunicorn, 2 sync workers) via reference-up.sh; (url, pid)."""
    port = free_port()
    out = subprocess.run([str(REFERENCE_UP), str(port), database], env=reference_env(),
                         check=True, capture_output=True, text=True).stdout
    pid = int(out.split("PID")[-1].split()[0])
    try:
        yield f"http://127.0.0.1:{port}", pid
    finally:
        _stop(pid)
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextmanager
def ctsd_server(database: str, ctsd_args: str, log: Path) -> Iterator[tuple[str, int]]:
    """`ctsd serve` of this checkout on a fresh PostgreSQL database; (url, pid)."""
    admin(f'CREATE DATABASE "{database}"')
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CTSD_")}
    env["CTSD_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1/{database}"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "ctsd"), "serve", "--host", "127.0.0.1",
             "--port", str(port), *shlex.split(ctsd_args)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", server)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(30)
        admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _stop(pid: int) -> None:
    os.kill(pid, 15)
    for _ in range(100):  # gunicorn's master waits for its workers before it exits
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def run_rounds(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """Alternate reference and ctsd, each round on fresh databases; the JSON pairs."""
    postmaster = postmaster_pid()
    pairs = []
    for round_no in range(1, args.rounds + 1):
        suffix = uuid.uuid4().hex[:8]
        with reference_server(f"refbench_{suffix}") as (url, pid):
            measure(args, f"reference-r{round_no}", url, [pid, postmaster],
                    f"refbench_{suffix}")
        with ctsd_server(f"ctsdbench_{suffix}", args.ctsd_args,
                         args.out / f"ctsd-r{round_no}.log") as (url, pid):
            measure(args, f"ctsd-r{round_no}", url, [pid, postmaster], f"ctsdbench_{suffix}")
        pairs.append((args.out / f"reference-r{round_no}.json",
                      args.out / f"ctsd-r{round_no}.json"))
    return pairs


def run_shared_script(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """side-by-side.sh OUTDIR ROUNDS N CTSD_ARGS, from the project root as it requires."""
    command = [str(SHARED_SCRIPT), str(args.out), str(args.rounds), str(args.n),
               args.ctsd_args]
    print("$", shlex.join(command), flush=True)
    subprocess.run(command, cwd=ROOT, env=reference_env(), check=True)
    return [(args.out / f"reference-r{r}.json", args.out / f"ctsd-r{r}.json")
            for r in range(1, args.rounds + 1)]


def calibration_lines(path: Path) -> list[str]:
    """One run's calibration: at start and end, and just before each timed run."""
    results: dict[str, Any] = json.loads(path.read_text())
    env = results["env"]
    runs = " ".join(f"{s['scenario']}@{s['concurrency']}={s['extra']['calibration_ms']}"
                    for s in results["scenarios"]
                    if (s.get("extra") or {}).get("calibration_ms") is not None)
    return [f"  {results['target']['label']}: calibration start/end "
            f"{env.get('calibration_ms_start')}/{env.get('calibration_ms_end')} ms",
            f"    before each run (ms): {runs}"]


def report(pairs: list[tuple[Path, Path]]) -> int:
    """The harness's compare table per round, then both runs' calibration."""
    missing = 0
    for round_no, (reference, ctsd) in enumerate(pairs, 1):
        print(f"\n== round {round_no}: {reference.name} (A) vs {ctsd.name} (B)", flush=True)
        if not (reference.exists() and ctsd.exists()):
            print("  a run left no results; see the .txt logs beside them")
            missing += 1
            continue
        subprocess.run([sys.executable, str(HARNESS), "compare", str(reference), str(ctsd)],
                       check=True)
        for path in (reference, ctsd):
            print("\n".join(calibration_lines(path)))
    return 1 if missing else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not HARNESS.exists():
        sys.exit(f"no harness at {HARNESS}: set CTS_BENCH_HARNESS to the path of ctsbench.py")
    args.out.mkdir(parents=True, exist_ok=True)
    pairs = run_shared_script(args) if args.shared_script else run_rounds(args)
    status = report(pairs)
    print(f"results: {args.out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
